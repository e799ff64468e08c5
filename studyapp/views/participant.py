"""The pages around the trials: entry, consent, demographics, instructions, endings, withdrawal."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from studyapp.forms import ConsentForm, DemographicsForm, QuestionsForm
from studyapp.models import Participant, Question, Study
from studyapp.selectors.participants import participant_resumable
from studyapp.selectors.questions import study_questions
from studyapp.services.participants import (
    RECRUITMENT_FIELDS,
    StudyUnavailable,
    participant_consent,
    participant_demographics_save,
    participant_enroll,
    participant_finish_if_complete,
    participant_instructions_done,
    participant_withdraw,
)
from studyapp.services.questions import participant_questions_save
from studyapp.views.common import at_step, page_context, participant_or_404, step_url
from studyapp.views.limits import rate_limited

_RECRUITMENT_VALUE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "studyapp/home.html")


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def recruitment_from(params: Any) -> dict[str, str]:
    """Recruitment ids from the entry link; malformed values are dropped, not stored."""
    found = {}
    for param, field in RECRUITMENT_FIELDS.items():
        value = params.get(param, "").strip()
        if value and _RECRUITMENT_VALUE.match(value):
            found[field] = value
    return found


def _recruitment_params(params: Any) -> list[tuple[str, str]]:
    """The entry link's recruitment parameters to carry through the start form."""
    return [
        (p, params[p].strip())
        for p in RECRUITMENT_FIELDS
        if p in params and _RECRUITMENT_VALUE.match(params[p].strip())
    ]


def estimated_minutes(study: Study) -> int:
    """A rough duration for the entry page: about 20 s per trial plus the pages around them."""
    trials = study.n_trials + study.n_practice + study.n_catch
    extra = 2 + (2 if study.headphone_screen else 0) + (1 if study.demographics else 0)
    extra += round(study.questions.count() / 3)  # (about 20 s a question)
    return max(5, round(trials * 20 / 60 + extra))


@require_http_methods(["GET", "POST"])
@rate_limited("RATE_LIMIT_ENTRY_PER_MIN")
def entry(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study, slug=slug)
    if request.method == "GET":
        # Returning with the same recruitment id goes straight back to the session; a new
        # session needs a POST, so link previews and crawlers never create one.
        existing = participant_resumable(
            study=study, recruitment=recruitment_from(request.GET)
        ) or _resumable_in_this_browser(request, study)
        if existing:
            return redirect("resume", token=existing.token)
        if not study.is_open:
            return render(
                request, "studyapp/unavailable.html", {"study": study, "reason": "closed"}
            )
        return render(
            request,
            "studyapp/entry.html",
            {
                "study": study,
                "carry": _recruitment_params(request.GET),
                "minutes": estimated_minutes(study),
            },
        )
    try:
        participant, _ = participant_enroll(study=study, recruitment=recruitment_from(request.POST))
    except StudyUnavailable as exc:
        return render(request, "studyapp/unavailable.html", {"study": study, "reason": exc.reason})
    reply = redirect("resume", token=participant.token)
    # The bare link, opened again in this browser, resumes this session (the entry page says so).
    reply.set_signed_cookie(
        _resume_cookie(study),
        participant.token,
        salt=RESUME_SALT,
        max_age=RESUME_DAYS * 86400,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return reply


RESUME_SALT, RESUME_DAYS = "studyapp.resume", 7


def _resume_cookie(study: Study) -> str:
    return f"hearxai-resume-{study.slug}"


def _resumable_in_this_browser(request: HttpRequest, study: Study) -> Participant | None:
    """The session this browser started in ``study`` (a signed cookie names it), if any."""
    token = request.get_signed_cookie(
        _resume_cookie(study), default=None, salt=RESUME_SALT, max_age=RESUME_DAYS * 86400
    )
    return Participant.objects.filter(study=study, token=token).first() if token else None


@require_GET
def resume(request: HttpRequest, token: str) -> HttpResponse:
    return redirect(step_url(participant_or_404(token)))


@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, token: str) -> HttpResponse:
    participant = participant_or_404(token)
    if not at_step(participant, "consent"):
        return redirect(step_url(participant))
    form = ConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        participant_consent(participant=participant, agree=form.cleaned_data["decision"] == "agree")
        return redirect(step_url(participant))
    status = 400 if request.method == "POST" else 200
    return render(
        request, "studyapp/consent.html", page_context(participant, form=form), status=status
    )


@require_http_methods(["GET", "POST"])
def demographics(request: HttpRequest, token: str) -> HttpResponse:
    participant = participant_or_404(token)
    if not at_step(participant, "demographics"):
        return redirect(step_url(participant))
    form = DemographicsForm(
        request.POST if request.method == "POST" else None,
        questions=list(participant.study.demographics),
    )
    if request.method == "POST" and form.is_valid():
        participant_demographics_save(participant=participant, answers=form.answers())
        return redirect(step_url(participant))
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "studyapp/questions.html",
        page_context(participant, form=form, placement="about_you"),
        status=status,
    )


@require_http_methods(["GET", "POST"])
def questions_before(request: HttpRequest, token: str) -> HttpResponse:
    return _questions(request, token, Question.Placement.BEFORE)


@require_http_methods(["GET", "POST"])
def questions_after(request: HttpRequest, token: str) -> HttpResponse:
    return _questions(request, token, Question.Placement.AFTER)


def _questions(request: HttpRequest, token: str, placement: str) -> HttpResponse:
    """The researcher's own questions of one page, asked once."""
    participant = participant_or_404(token)
    if not at_step(participant, f"questions_{placement}"):
        return redirect(step_url(participant))
    form = QuestionsForm(
        request.POST if request.method == "POST" else None,
        questions=study_questions(study=participant.study, placement=placement),
    )
    if request.method == "POST" and form.is_valid():
        participant_questions_save(
            participant=participant, placement=placement, answers=form.answers()
        )
        return redirect(step_url(participant))
    status = 400 if request.method == "POST" else 200
    context = page_context(participant, form=form, placement=placement)
    return render(request, "studyapp/questions.html", context, status=status)


@require_http_methods(["GET", "POST"])
def instructions(request: HttpRequest, token: str) -> HttpResponse:
    participant = participant_or_404(token)
    if not at_step(participant, "instructions"):
        return redirect(step_url(participant))
    if request.method == "POST":
        participant_instructions_done(participant=participant)
        return redirect(step_url(participant))
    return render(request, "studyapp/instructions.html", instructions_context(participant))


def instructions_context(participant: Participant) -> dict[str, Any]:
    modality = participant.condition.modality if participant.condition else ""
    n_practice = (
        participant.trials.filter(kind="practice").count()
        if participant.pk
        else participant.study.n_practice
    )
    return page_context(participant, modality=modality, n_practice=n_practice)


@require_GET
def done(request: HttpRequest, token: str) -> HttpResponse:
    participant = participant_or_404(token)
    if participant.status != Participant.Status.COMPLETED and not (
        at_step(participant, "done") and participant_finish_if_complete(participant=participant)
    ):
        return redirect(step_url(participant))
    return render(
        request,
        "studyapp/done.html",
        page_context(
            participant,
            redirect_url=participant.study.completion_url,
            design_words=debrief_words(participant.study),
        ),
    )


def debrief_words(study: Study) -> str:
    """The default debrief's account of the design, worded from the study's own settings."""
    modalities = set(study.conditions.values_list("modality", flat=True))
    words = []
    if len(modalities) > 1:
        who = (
            "You saw or heard different kinds of explanation on different recordings"
            if study.assignment == Study.Assignment.WITHIN
            else "Different participants saw or heard different kinds of explanation"
        )
        explained = modalities - {"none"}
        words.append(who + (" (or none)." if "none" in modalities and explained else "."))
    if study.share_incorrect > 0:
        words.append(
            "Some of the model's decisions were wrong on purpose, so that we can tell whether "
            "people follow the explanation or the recording."
        )
    return " ".join(words)


@require_GET
def declined(request: HttpRequest, token: str) -> HttpResponse:
    participant = participant_or_404(token)
    if participant.status != Participant.Status.DECLINED:
        return redirect(step_url(participant))
    return render(
        request,
        "studyapp/declined.html",
        page_context(participant, redirect_url=participant.study.noconsent_url),
    )


@require_GET
def screened_out(request: HttpRequest, token: str) -> HttpResponse:
    participant = participant_or_404(token)
    if participant.status != Participant.Status.SCREENED_OUT:
        return redirect(step_url(participant))
    return render(
        request,
        "studyapp/screened_out.html",
        page_context(participant, redirect_url=participant.study.screenout_url),
    )


@require_GET
def expired(request: HttpRequest, token: str) -> HttpResponse:
    participant = participant_or_404(token)
    if participant.status != Participant.Status.ABANDONED:
        return redirect(step_url(participant))
    return render(request, "studyapp/expired.html", page_context(participant))


@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, token: str) -> HttpResponse:
    """Confirm, then delete the session and everything recorded in it."""
    participant = participant_or_404(token)
    if request.method == "POST":
        slug = participant.study.slug
        participant_withdraw(participant=participant)
        return redirect("withdrawn", slug=slug)
    context = page_context(participant, back_url=reverse("resume", args=[participant.token]))
    context.pop("withdraw_url")
    return render(request, "studyapp/withdraw.html", context)


@require_GET
def withdrawn(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study, slug=slug)
    return render(request, "studyapp/withdrawn.html", {"study": study})
