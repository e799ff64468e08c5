"""Volume calibration and the Huggins-pitch headphone screen."""

from __future__ import annotations

import secrets
from typing import Any

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from studyapp.forms import CalibrationForm, ScreeningAnswerForm
from studyapp.models import Participant
from studyapp.selectors.screening import screening_design, screening_state
from studyapp.services.screening import (
    ScreeningAnswer,
    ScreeningRejected,
    screening_answer_record,
    screening_calibrated,
    screening_sound_path,
)
from studyapp.views.common import (
    answer_not_stored,
    at_step,
    first_form_error,
    next_page,
    page_context,
    participant_or_404,
    problem,
    stale_page,
    step_url,
)
from studyapp.views.limits import rate_limited


def wav_response(path: Any) -> FileResponse:
    response = FileResponse(open(path, "rb"), content_type="audio/wav")
    response["Cache-Control"] = "private, max-age=3600"
    return response


def calibration_context(participant: Participant, sound_url: str, **extra: Any) -> dict[str, Any]:
    design = screening_design()
    return {
        "sound_url": sound_url,
        "duration_s": design.calibration_s,
        "form": CalibrationForm(),
        **extra,
    }


def screening_context(
    participant: Participant, number: int, n_trials: int, sound_url: str, **extra: Any
) -> dict[str, Any]:
    design = screening_design()
    bounds = ";".join(f"{a:.3f},{b:.3f}" for a, b in design.interval_bounds_s())
    return {
        "number": number,
        "n_trials": n_trials,
        "sound_url": sound_url,
        "intervals": bounds,
        "duration_s": design.total_s,
        "options": [1, 2, 3],
        "form_action": "",
        "submission_key": secrets.token_urlsafe(16),
        **extra,
    }


@require_http_methods(["GET", "POST"])
def calibration(request: HttpRequest, token: str) -> HttpResponse:
    participant = participant_or_404(token)
    if not at_step(participant, "calibration"):
        return redirect(step_url(participant))
    if request.method == "POST":
        form = CalibrationForm(request.POST)
        if not form.is_valid():
            return problem(
                request,
                "Please play the sound and set your volume before going on.",
                continue_url=step_url(participant),
                participant=participant,
            )
        screening_calibrated(participant=participant, plays=form.cleaned_data["plays"])
        return redirect(step_url(participant))
    sound = reverse("calibration_sound", args=[participant.token])
    return render(
        request,
        "studyapp/calibration.html",
        page_context(participant, **calibration_context(participant, sound)),
    )


@require_GET
def calibration_sound(request: HttpRequest, token: str) -> FileResponse:
    participant = participant_or_404(token)
    if not participant.study.headphone_screen:
        raise Http404("this study has no sound check")
    return wav_response(screening_sound_path(target=None, variant=0))


@require_http_methods(["GET", "POST"])
@rate_limited("RATE_LIMIT_ANSWER_PER_MIN", per="session")
def screening(request: HttpRequest, token: str, number: int) -> HttpResponse:
    participant = participant_or_404(token)
    if request.method == "POST":
        return _screening_post(request, participant, number)
    if not at_step(participant, "screening", number):
        return redirect(step_url(participant))
    state = screening_state(participant)
    sound = reverse("screening_sound", args=[participant.token, number])
    context = screening_context(participant, number, state["n_trials"], sound)
    return render(request, "studyapp/screening.html", page_context(participant, **context))


def _screening_post(request: HttpRequest, participant: Participant, number: int) -> HttpResponse:
    form = ScreeningAnswerForm(request.POST)
    if not form.is_valid():
        return answer_not_stored(request, participant, first_form_error(form))
    data = form.cleaned_data
    answer = ScreeningAnswer(
        answer=data["answer"],
        submission_key=data["submission_key"],
        rt_ms=data.get("rt_ms"),
        events=tuple(data["events"]),
    )
    try:
        screening_answer_record(participant=participant, number=number, answer=answer)
    except ScreeningRejected as exc:
        if exc.code in {"answered", "order", "state"}:
            return stale_page(request, str(exc), step_url(participant))
        return answer_not_stored(request, participant, str(exc))
    return next_page(request, step_url(participant))


@require_GET
def screening_sound(request: HttpRequest, token: str, number: int) -> FileResponse:
    """The current sound check's audio; the URL says nothing about which interval holds the tone."""
    participant = participant_or_404(token)
    if not at_step(participant, "screening", number):
        raise Http404("this sound check is not the current one")
    state = screening_state(participant)
    return wav_response(
        screening_sound_path(
            target=state["targets"][number - 1], variant=state["variants"][number - 1]
        )
    )
