"""Trial pages: the clip, the explanation, the question; practice feedback; media files."""

from __future__ import annotations

import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from studyapp.forms import AnswerForm
from studyapp.models import Condition, MediaFile, Participant, Study, Trial
from studyapp.selectors.designs import design_shows_explanation, design_shows_feedback
from studyapp.selectors.participants import (
    TrialProgress,
    participant_step,
    trial_for_page,
    trial_progress,
    trials_for_page,
)
from studyapp.services.participants import (
    Answer,
    AnswerRejected,
    Recorded,
    allowed_answers,
    answer_is_correct,
    answer_record,
    asks_rating,
    trial_present,
)
from studyapp.views.common import (
    answer_not_stored,
    first_form_error,
    next_page,
    page_context,
    participant_or_404,
    stale_page,
    step_url,
    wants_json,
)
from studyapp.views.limits import rate_limited
from studyapp.views.pictures import trial_picture
from studyapp.views.trial_kinds import TRIAL_SECTION, trial_partial

STALE_CODES = {"answered", "order", "state", "unseen"}


def answer_form(study: Study, data: Any = None) -> AnswerForm:
    return AnswerForm(data, choices=allowed_answers(study), ask_confidence=study.ask_confidence)


def trial_page_context(
    *,
    participant: Participant,
    trial: Trial,
    answered: int,
    total: int,
    following: Trial | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What a trial's partial needs; the preview builds the same from unsaved objects.

    ``following``: the trial after this one, whose media the page preloads.
    """
    stim, study = trial.stimulus, participant.study
    shows = trial_shows(study, trial)
    previous = getattr(trial, "response", None) if trial.pk else None
    context = {
        "trial": trial,
        "trial_section": TRIAL_SECTION,
        "trial_partial": trial_partial(trial),
        "stimulus": stim,
        **shows,
        **_pictures(study, trial, shows),
        "ask_rating": asks_rating(participant.study, modality=shows["modality"]),
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
        "preload": trial_media_urls(participant.study, following) if following is not None else [],
        "form_action": "",
        "back_url": "",
    }
    context.update(extra)
    return page_context(participant, **context)


def _pictures(study: Study, trial: Trial, shows: dict[str, Any]) -> dict[str, Any]:
    """The single picture of a trial, or the two sides of a pairwise one with theirs."""
    if shows["partner"] is not None:
        sides = ((trial.stimulus, "explanation", "first"), (trial.partner, "partner", "second"))
        pair = [(s, m, n, trial_picture(study, s, relevance=True, name=n)) for s, m, n in sides]
        return {"pair_sides": pair, "picture": None}
    shown = shows["show_image"] or shows["show_plain_image"]
    picture = trial_picture(study, trial.stimulus, relevance=shows["show_image"]) if shown else None
    return {"pair_sides": [], "picture": picture}


def trial_shows(study: Study, trial: Trial) -> dict[str, Any]:
    """What a trial's page shows and plays (the partials and the preload list both read it)."""
    modality = (
        trial.condition.modality
        if design_shows_explanation(study=study, kind=trial.kind)
        else Condition.Modality.NONE
    )
    return {
        "modality": modality,
        "show_image": modality in {"visual", "both"},
        "show_plain_image": modality in {"none", "audible"},
        "play_explanation": modality in {"audible", "both"},
        "play_original": not study.explanation_only,
        # Pairwise designs: the second stimulus, shown beside the first (docs/study-designs.md).
        "partner": trial.partner if trial.partner_id else None,
    }


def trial_media_urls(study: Study, trial: Trial) -> list[str]:
    """The URLs of the media a trial's page loads (what the trial before it preloads)."""
    shows = trial_shows(study, trial)
    items = [trial.stimulus.original_audio] if shows["play_original"] else []
    for stimulus in [trial.stimulus] + ([shows["partner"]] if shows["partner"] else []):
        if shows["play_explanation"]:
            items.append(stimulus.audible_heatmap)
        if shows["show_image"]:
            items.append(stimulus.visual_heatmap)
    if shows["show_plain_image"] and shows["partner"] is None:
        items.append(trial.stimulus.plain_image)
    return [media_url(item) for item in items]


@require_http_methods(["GET", "POST"])
@rate_limited("RATE_LIMIT_ANSWER_PER_MIN", per="session")
def trial(request: HttpRequest, token: str, position: int) -> HttpResponse:
    participant = participant_or_404(token)
    if request.method == "POST":
        return _trial_post(request, participant, position)
    progress = trial_progress(participant=participant)
    step, current = participant_step(participant=participant, first_open=progress.first_open)
    shown = trials_for_page(
        participant=participant, positions=[position - 1, position, position + 1]
    )
    trial_obj = shown.get(position)
    revising = _may_revise(participant, trial_obj, step, current, position)
    if trial_obj is None or (not revising and (step != "trial" or current != position)):
        return redirect(step_url(participant))
    if not revising:
        trial_present(trial=trial_obj)
    before = shown.get(position - 1)
    context = _runner_context(
        participant,
        trial_obj,
        progress,
        following=None if revising else shown.get(position + 1),
        revising=revising,
        back_url=reverse("trial", args=[participant.token, position - 1])
        if participant.study.allow_back
        and before is not None
        and before.kind != Trial.Kind.PRACTICE
        else "",
    )
    return render(request, "studyapp/trial.html", context)


def _runner_context(
    participant: Participant,
    trial_obj: Trial,
    progress: TrialProgress,
    *,
    following: Trial | None,
    **extra: Any,
) -> dict[str, Any]:
    return trial_page_context(
        participant=participant,
        trial=trial_obj,
        answered=progress.answered,
        total=progress.total,
        following=following,
        form_action=reverse("trial", args=[participant.token, trial_obj.position]),
        **extra,
    )


def _may_revise(
    participant: Participant, found: Trial | None, step: str, current: int | None, position: int
) -> bool:
    """Going back is allowed to an answered, non-practice trial before the current one."""
    if (
        not participant.study.allow_back
        or step != "trial"
        or current is None
        or not 1 <= position < current
    ):
        return False
    return found is not None and hasattr(found, "response") and found.kind != Trial.Kind.PRACTICE


def _trial_post(request: HttpRequest, participant: Participant, position: int) -> HttpResponse:
    form = answer_form(participant.study, request.POST)
    if not form.is_valid():
        return answer_not_stored(request, participant, first_form_error(form))
    data = form.cleaned_data
    answer = Answer(
        answer=data["answer"],
        rating=data.get("rating"),
        confidence=data.get("confidence"),
        rt_ms=data.get("rt_ms"),
        submission_key=data["submission_key"],
        events=tuple(data["events"]),
        focus_losses=data.get("focus_losses"),
        hidden_count=data.get("hidden_count"),
        hidden_ms=data.get("hidden_ms"),
    )
    try:
        recorded = answer_record(participant=participant, position=position, answer=answer)
    except AnswerRejected as exc:
        if exc.code in STALE_CODES:
            return stale_page(request, str(exc), step_url(participant))
        status = 404 if exc.code == "not_found" else 400
        return answer_not_stored(request, participant, str(exc), status=status)
    if design_shows_feedback(study=participant.study, kind=recorded.response.trial.kind):
        return next_page(request, reverse("feedback", args=[participant.token, position]))
    if recorded.created and recorded.next_trials and wants_json(request):
        return _next_trial_reply(request, participant, recorded.next_trials)
    return next_page(request, _after_answer_url(participant, recorded))


def _next_trial_reply(
    request: HttpRequest, participant: Participant, next_trials: tuple[Trial, ...]
) -> JsonResponse:
    """The stored answer's reply that carries the next trial, for the runner to swap in.

    ``next_trials``: the next trial and the one after it, as the answer read them.
    The trial counts as presented from this moment: the page shows it as soon as the
    reply arrives (its media are already in the browser's cache, preloaded).
    """
    progress = trial_progress(participant=participant)
    trial_obj = trial_present(trial=next_trials[0])
    following = next_trials[1] if len(next_trials) > 1 else None
    position = trial_obj.position
    context = _runner_context(participant, trial_obj, progress, following=following)
    html = render_to_string(TRIAL_SECTION, context, request=request)
    return JsonResponse(
        {
            "ok": True,
            "next": context["form_action"],
            "trial": {
                "position": position,
                "answered": progress.answered,
                "total": progress.total,
                "html": html,
            },
        }
    )


def _after_answer_url(participant: Participant, recorded: Recorded) -> str:
    """Where a participant goes after an answer (without asking the database again when known)."""
    if recorded.created and recorded.next_position is not None:
        return reverse("trial", args=[participant.token, recorded.next_position])
    if recorded.created and participant.status == Participant.Status.COMPLETED:
        return reverse("done", args=[participant.token])
    return step_url(participant)  # (questions after the trials, or a repeated answer)


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
        "answer_correct": answer_is_correct(trial_obj, answer=answer),
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
    # Named by its content hash, a file never changes: any cache may keep it for a year (the
    # media service's nginx sends the same header, docker/media-nginx.conf).
    response["Cache-Control"] = "public, max-age=31536000, immutable"
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
