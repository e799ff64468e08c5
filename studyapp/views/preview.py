"""Staff-only "preview as participant": every page of a condition, with nothing saved.

The pages render the participants' templates with unsaved model objects; answers posted
here are checked for shape and then dropped, so a preview never creates a session,
a trial, a response or an event.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from studyapp.forms import CalibrationForm, ConsentForm, DemographicsForm, QuestionsForm
from studyapp.models import Condition, Participant, Question, Study, Trial
from studyapp.selectors.assignment import assignment_plan, study_arms
from studyapp.selectors.designs import design_shows_feedback
from studyapp.selectors.questions import study_questions
from studyapp.selectors.screening import screening_plan
from studyapp.services.screening import screening_sound_path
from studyapp.views.common import next_page, problem, wants_json
from studyapp.views.participant import debrief_words, estimated_minutes, instructions_context
from studyapp.views.screening import calibration_context, screening_context, wav_response
from studyapp.views.trials import answer_form, feedback_context, trial_page_context

# Pages outside the main sequence, reachable from the preview index.
ENDINGS = ("declined", "screened-out", "expired", "withdraw", "withdrawn", "unavailable")
PREVIEW_TOKEN = "preview-not-a-session"


def _participant(study: Study, condition: Condition) -> Participant:
    return Participant(
        study=study,
        condition=condition,
        token=PREVIEW_TOKEN,
        pseudonym=f"preview-{condition.name}",
        seed=study.seed,
        status=Participant.Status.IN_PROGRESS,
    )


def _trials(study: Study, condition: Condition, participant: Participant) -> list[Trial]:
    """The trials of the arm that holds ``condition`` (first rotation, study seed), all shown in it.

    In a within-participant arm a real participant meets several conditions; the
    preview of one condition shows that condition on every trial of the arm's plan.
    """
    arm = next(a for a in study_arms(study) if any(cell.key == condition.pk for cell in a.cells))
    plan = assignment_plan(study=study, arm=arm.label, rotation=0, seed=study.seed)
    return [
        Trial(
            participant=participant,
            position=i,
            kind=p.kind,
            stimulus=p.stimulus,
            condition=condition,
            expected_answer=p.expected_answer,
            partner=p.partner,
        )
        for i, p in enumerate(plan, start=1)
    ]


def preview_sequence(study: Study, trials: list[Trial]) -> list[tuple[str, int | None]]:
    """The pages a participant meets, in order, as (page, number)."""
    pages: list[tuple[str, int | None]] = [("entry", None), ("consent", None)]
    if study.demographics:
        pages.append(("demographics", None))
    placements = set(study.questions.values_list("placement", flat=True))
    if Question.Placement.BEFORE in placements:
        pages.append(("questions-before", None))
    if study.headphone_screen:
        pages.append(("calibration", None))
        pages += [("screening", n) for n in range(1, study.screen_trials + 1)]
    pages.append(("instructions", None))
    for trial in trials:
        pages.append(("trial", trial.position))
        if design_shows_feedback(study=study, kind=trial.kind):
            pages.append(("feedback", trial.position))
    if Question.Placement.AFTER in placements:
        pages.append(("questions-after", None))
    pages.append(("done", None))
    return pages


def preview_url(study: Study, condition: Condition, page: str, number: int | None = None) -> str:
    if number is None:
        return reverse("preview_page", args=[study.slug, condition.name, page])
    return reverse("preview_numbered", args=[study.slug, condition.name, page, number])


def _load(slug: str, condition_name: str) -> tuple[Study, Condition, Participant, list[Trial]]:
    study = get_object_or_404(Study.objects.select_related("bundle"), slug=slug)
    condition = get_object_or_404(Condition, study=study, name=condition_name)
    participant = _participant(study, condition)
    return study, condition, participant, _trials(study, condition, participant)


@staff_member_required
@require_GET
def preview_index(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study.objects.select_related("bundle"), slug=slug)
    rows = []
    for condition in study.conditions.all():
        participant = _participant(study, condition)
        sequence = preview_sequence(study, _trials(study, condition, participant))
        links = [
            (f"{page} {number or ''}".strip(), preview_url(study, condition, page, number))
            for page, number in sequence
        ]
        links += [(page, preview_url(study, condition, page)) for page in ENDINGS]
        rows.append({"condition": condition, "links": links})
    return render(
        request, "studyapp/preview_index.html", {"study": study, "rows": rows, "preview": True}
    )


@staff_member_required
@require_http_methods(["GET", "POST"])
def preview_page(
    request: HttpRequest, slug: str, condition: str, page: str, number: int | None = None
) -> HttpResponse:
    study, cond, participant, trials = _load(slug, condition)
    sequence = preview_sequence(study, trials)
    if (page, number) not in sequence and not (number is None and page in ENDINGS):
        raise Http404("no such preview page")
    if request.method == "POST":
        return _preview_post(request, study, cond, trials, sequence, page, number)
    template, context = _page(request, study, cond, participant, trials, sequence, page, number)
    base = {
        "participant": participant,
        "study": study,
        "preview": True,
        "preview_condition": cond,
        "preview_index": reverse("preview_index", args=[study.slug]),
        "withdraw_url": preview_url(study, cond, "withdraw"),
    }
    return render(request, template, {**base, **context})


def _next(
    study: Study,
    cond: Condition,
    sequence: list[tuple[str, int | None]],
    page: str,
    number: int | None,
) -> str:
    at = sequence.index((page, number)) if (page, number) in sequence else len(sequence) - 1
    next_page_, next_number = sequence[min(at + 1, len(sequence) - 1)]
    return preview_url(study, cond, next_page_, next_number)


def _preview_post(
    request: HttpRequest,
    study: Study,
    cond: Condition,
    trials: list[Trial],
    sequence: list[tuple[str, int | None]],
    page: str,
    number: int | None,
) -> HttpResponse:
    """Check the posted form as the real page would, then move on without saving."""
    target = _next(study, cond, sequence, page, number)
    if page == "consent":
        form = ConsentForm(request.POST)
        if form.is_valid() and form.cleaned_data["decision"] == "decline":
            target = preview_url(study, cond, "declined")
    elif page == "trial" and number is not None:
        form = answer_form(study, request.POST)
        if form.is_valid() and design_shows_feedback(study=study, kind=trials[number - 1].kind):
            target += f"?answer={form.cleaned_data['answer']}"
    elif page.startswith("questions-"):
        form = _questions_form(study, page.removeprefix("questions-"), request.POST)
    elif page == "withdraw":
        return redirect(preview_url(study, cond, "withdrawn"))
    else:
        form = None
    if form is not None and not form.is_valid():
        return problem(
            request, f"The page sent an answer the study would refuse: {form.errors.as_text()}"
        )
    return next_page(request, target) if wants_json(request) else redirect(target)


def _questions_form(study: Study, placement: str, data: Any = None) -> QuestionsForm:
    return QuestionsForm(data, questions=study_questions(study=study, placement=placement))


def _fixed_pages(study: Study, cond: Condition, url: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Pages that need no trial: (template, extra context) by page name."""
    return {
        "entry": (
            "studyapp/entry.html",
            {"form_action": url, "carry": [], "minutes": estimated_minutes(study)},
        ),
        "consent": ("studyapp/consent.html", {"form": ConsentForm()}),
        "demographics": (
            "studyapp/questions.html",
            {
                "form": DemographicsForm(questions=list(study.demographics)),
                "placement": "about_you",
            },
        ),
        **{
            f"questions-{placement}": (
                "studyapp/questions.html",
                {"form": _questions_form(study, placement), "placement": placement},
            )
            for placement in Question.Placement.values
        },
        "done": (
            "studyapp/done.html",
            {"redirect_url": "", "design_words": debrief_words(study)},
        ),
        "declined": ("studyapp/declined.html", {"redirect_url": ""}),
        "screened-out": ("studyapp/screened_out.html", {"redirect_url": ""}),
        "expired": ("studyapp/expired.html", {}),
        "withdraw": ("studyapp/withdraw.html", {"back_url": preview_url(study, cond, "consent")}),
        "withdrawn": ("studyapp/withdrawn.html", {}),
        "unavailable": ("studyapp/unavailable.html", {"reason": "full"}),
    }


def _page(
    request: HttpRequest,
    study: Study,
    cond: Condition,
    participant: Participant,
    trials: list[Trial],
    sequence: list[tuple[str, int | None]],
    page: str,
    number: int | None,
) -> tuple[str, dict[str, Any]]:
    url = preview_url(study, cond, page, number)
    fixed = _fixed_pages(study, cond, url)
    if page in fixed:
        return fixed[page]
    if page == "instructions":
        context = instructions_context(participant)
        context["n_practice"] = sum(1 for t in trials if t.kind == Trial.Kind.PRACTICE)
        return "studyapp/instructions.html", context
    if page == "calibration":
        sound = reverse("preview_sound", args=[study.slug, cond.name, 0])
        return "studyapp/calibration.html", calibration_context(
            participant, sound, form=CalibrationForm()
        )
    if page == "screening" and number is not None:
        sound = reverse("preview_sound", args=[study.slug, cond.name, number])
        return "studyapp/screening.html", screening_context(
            participant, number, study.screen_trials, sound
        )
    trial = trials[(number or 1) - 1]
    if page == "feedback":
        answer = request.GET.get("answer", "")[:64] or trial.stimulus.predicted_label
        context = feedback_context(
            participant, trial, answer, _next(study, cond, sequence, page, number)
        )
        later = trials[trial.position :]
        context["last_practice"] = not later or later[0].kind != trial.kind
        return "studyapp/feedback.html", context
    return "studyapp/trial.html", trial_page_context(
        participant=participant,
        trial=trial,
        answered=trial.position - 1,
        total=len(trials),
        form_action=url,
        storage_key=f"hearxai-preview:{study.slug}:{cond.name}:{trial.position}",
    )


@staff_member_required
@require_GET
def preview_sound(request: HttpRequest, slug: str, condition: str, number: int) -> FileResponse:
    """Sound-check audio for the preview (0 is the calibration noise)."""
    study = get_object_or_404(Study, slug=slug)
    if not study.headphone_screen or not 0 <= number <= study.screen_trials:
        raise Http404("no such sound")
    if number == 0:
        return wav_response(screening_sound_path(target=None, variant=0))
    plan = screening_plan(seed=study.seed, n_trials=study.screen_trials)
    return wav_response(
        screening_sound_path(
            target=plan["targets"][number - 1], variant=plan["variants"][number - 1]
        )
    )
