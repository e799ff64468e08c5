"""Trial pages: the clip, the explanation, the question; practice feedback; media files."""

from __future__ import annotations

import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from studyapp.forms import AnswerForm
from studyapp.models import Condition, MediaFile, Participant, Study, Trial
from studyapp.selectors import AnswerSession, TrialPage, participant_step, trial_for_page
from studyapp.services.designs import design_shows_explanation, design_shows_feedback
from studyapp.services.participants import (
    Answer,
    AnswerRejected,
    Recorded,
    allowed_answers,
    answer_is_correct,
    answer_record,
    trial_present,
)
from studyapp.views.common import (
    answer_session_or_404,
    next_page,
    page_context,
    participant_or_404,
    problem,
    stale_page,
    step_url,
    trial_page_or_404,
)
from studyapp.views.limits import rate_limited

STALE_CODES = {"answered", "order", "state"}


def answer_form(study: Study, data: Any = None) -> AnswerForm:
    return AnswerForm(
        data,
        choices=allowed_answers(study),
        ask_rating=study.ask_rating,
        ask_confidence=study.ask_confidence,
    )


def trial_page_context(
    *, participant: Participant, trial: Trial, answered: int, total: int, **extra: Any
) -> dict[str, Any]:
    """What the trial template needs; the preview builds the same from unsaved objects."""
    stim = trial.stimulus
    study = participant.study
    modality = (
        trial.condition.modality
        if design_shows_explanation(study=study, kind=trial.kind)
        else Condition.Modality.NONE
    )
    previous = getattr(trial, "response", None) if trial.pk else None
    context = {
        "trial": trial,
        "stimulus": stim,
        "modality": modality,
        "show_image": modality in {"visual", "both"},
        "show_plain_image": modality in {"none", "audible"},
        "play_explanation": modality in {"audible", "both"},
        "play_original": not study.explanation_only,
        # Pairwise designs: each trial kind renders its own partial (see docs/study-designs.md).
        "partner": trial.partner if trial.partner_id else None,
        "trial_partial": "studyapp/_trial_pair.html"
        if trial.partner_id
        else "studyapp/_trial_single.html",
        "pair_sides": [(stim, "explanation", "first"), (trial.partner, "partner", "second")]
        if trial.partner_id
        else [],
        "answers": allowed_answers(participant.study),
        "submission_key": secrets.token_urlsafe(16),
        "answered": answered,
        "total": total,
        "percent": round(100 * answered / max(total, 1)),
        "timeline": stim.timeline or {},
        "previous": previous,
        "confidence_value": previous.confidence if previous is not None else None,
        "is_last": trial.position == total,
        "storage_key": f"hearxai:{participant.pseudonym}:{trial.position}",
        "form_action": "",
        "back_url": "",
    }
    context.update(extra)
    return page_context(participant, **context)


@require_http_methods(["GET", "POST"])
@rate_limited("RATE_LIMIT_ANSWER_PER_MIN", per="session")
def trial(request: HttpRequest, token: str, position: int) -> HttpResponse:
    if request.method == "POST":
        return _trial_post(request, answer_session_or_404(token), position)
    page = trial_page_or_404(token, position)
    participant, trial_obj = page.participant, page.trial
    step, current = participant_step(participant=participant, first_open=page.first_open)
    revising = _may_revise(page, step, current, position)
    if not revising and (step != "trial" or current != position):
        return redirect(step_url(participant))
    if trial_obj is None:
        return redirect(step_url(participant))
    if not revising:
        trial_present(trial=trial_obj)
    context = trial_page_context(
        participant=participant,
        trial=trial_obj,
        answered=page.answered,
        total=page.total,
        revising=revising,
        back_url=reverse("trial", args=[participant.token, position - 1])
        if page.previous_revisable()
        else "",
    )
    return render(request, "studyapp/trial.html", context)


def _may_revise(page: TrialPage, step: str, current: int | None, position: int) -> bool:
    """Going back is allowed to an answered, non-practice trial before the current one."""
    if (
        not page.participant.study.allow_back
        or step != "trial"
        or current is None
        or not 1 <= position < current
    ):
        return False
    found = page.trial
    return found is not None and hasattr(found, "response") and found.kind != Trial.Kind.PRACTICE


def _trial_post(request: HttpRequest, session: AnswerSession, position: int) -> HttpResponse:
    participant = session.participant
    form = answer_form(participant.study, request.POST)
    if not form.is_valid():
        return problem(
            request,
            f"The answer could not be stored: {_first_error(form)}",
            continue_url=step_url(participant),
            participant=participant,
        )
    data = form.cleaned_data
    answer = Answer(
        answer=data["answer"],
        rating=data.get("rating"),
        confidence=data.get("confidence"),
        rt_ms=data.get("rt_ms"),
        submission_key=data["submission_key"],
        events=tuple(data["events"]),
    )
    try:
        recorded = answer_record(
            participant=participant,
            position=position,
            answer=answer,
            open_trials=session.open_trials,
        )
    except AnswerRejected as exc:
        if exc.code in STALE_CODES:
            return stale_page(request, str(exc), step_url(participant))
        status = 404 if exc.code == "not_found" else 400
        return problem(
            request,
            f"The answer could not be stored: {exc}",
            status=status,
            continue_url=step_url(participant),
            participant=participant,
        )
    if design_shows_feedback(study=participant.study, kind=recorded.response.trial.kind):
        return next_page(request, reverse("feedback", args=[participant.token, position]))
    return next_page(request, _after_answer_url(participant, recorded))


def _after_answer_url(participant: Participant, recorded: Recorded) -> str:
    """Where a participant goes after an answer (without asking the database again when known)."""
    if recorded.created and recorded.next_position is not None:
        return reverse("trial", args=[participant.token, recorded.next_position])
    if recorded.created:
        return reverse("done", args=[participant.token])
    return step_url(participant)


def _first_error(form: AnswerForm) -> str:
    field, errors = next(iter(form.errors.items()))
    return f"{field}: {errors[0]}" if field != "__all__" else str(errors[0])


@require_GET
def feedback(request: HttpRequest, token: str, position: int) -> HttpResponse:
    """After a practice trial: what the right answer was, and why."""
    participant = participant_or_404(token)
    trial_obj = trial_for_page(participant=participant, position=position)
    if (
        participant.status != Participant.Status.IN_PROGRESS
        or trial_obj is None
        or not design_shows_feedback(study=participant.study, kind=trial_obj.kind)
        or not hasattr(trial_obj, "response")
    ):
        return redirect(step_url(participant))
    return render(
        request,
        "studyapp/feedback.html",
        feedback_context(participant, trial_obj, trial_obj.response.answer, step_url(participant)),
    )


def feedback_context(
    participant: Participant, trial_obj: Trial, answer: str, continue_url: str
) -> dict[str, Any]:
    next_trial = (
        participant.trials.filter(position=trial_obj.position + 1).first()
        if participant.pk
        else None
    )
    context = {
        "trial": trial_obj,
        "stimulus": trial_obj.stimulus,
        "answer": answer,
        "answer_correct": answer_is_correct(trial_obj, answer),
        "continue_url": continue_url,
        "last_practice": next_trial is None or next_trial.kind != trial_obj.kind,
    }
    return page_context(participant, **context)


@require_GET
def media(request: HttpRequest, sha256: str, ext: str) -> FileResponse:
    """Serve a stored media file by content hash (names reveal nothing about labels)."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256) or ext not in {"wav", "png"}:
        raise Http404("no such file")
    found = _media_file(sha256)
    if found is None:
        raise Http404("no such file")
    path, media_type = found
    if not path.is_file():
        raise Http404("file missing from storage")
    response = FileResponse(open(path, "rb"), content_type=media_type)
    response["Cache-Control"] = "private, max-age=86400, immutable"
    response["Accept-Ranges"] = "none"
    return response


@lru_cache(maxsize=4096)
def _cached_media_file(sha256: str) -> tuple[str, str]:
    item = MediaFile.objects.filter(sha256=sha256).only("path", "media_type").first()
    if item is None:
        raise LookupError(sha256)  # (not cached: lru_cache keeps only returned values)
    return item.path, item.media_type


def _media_file(sha256: str) -> tuple[Path, str] | None:
    """(absolute path, media type) of a stored file. The row is cached per process: a file
    named by its content hash never changes, and every trial page asks for two or three."""
    try:
        relative, media_type = _cached_media_file(sha256)
    except LookupError:
        return None
    return Path(settings.MEDIA_ROOT) / relative, media_type


def media_url(item: MediaFile) -> str:
    return reverse("media", args=[item.sha256, item.path.rsplit(".", 1)[-1]])
