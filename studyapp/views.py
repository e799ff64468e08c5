"""Participant-facing views. Thin: check input shape, call a service, render."""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from studyapp.forms import AnswerForm, ConsentForm
from studyapp.models import MediaFile, Participant, Study, Trial
from studyapp.selectors import participant_by_token, participant_progress, participant_step
from studyapp.services.media import media_absolute_path
from studyapp.services.participants import (
    RECRUITMENT_FIELDS,
    Answer,
    AnswerRejected,
    StudyUnavailable,
    allowed_answers,
    participant_consent,
    participant_enroll,
    participant_instructions_done,
    participant_touch,
    response_record,
    trial_present,
)

_RECRUITMENT_VALUE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "studyapp/home.html")


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _recruitment(params: Any) -> dict[str, str]:
    """Recruitment ids from the entry link; malformed values are dropped, not stored."""
    found = {}
    for param, field in RECRUITMENT_FIELDS.items():
        value = params.get(param, "").strip()
        if value and _RECRUITMENT_VALUE.match(value):
            found[field] = value
    return found


@require_http_methods(["GET", "POST"])
def entry(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study, slug=slug)
    if request.method == "GET":
        # Starting needs a POST so link previews and crawlers never create sessions.
        if not study.is_open:
            return render(request, "studyapp/unavailable.html", {"study": study, "reason": "closed"}, status=200)
        return render(request, "studyapp/entry.html", {"study": study, "recruitment": request.GET.urlencode()})
    try:
        participant, _ = participant_enroll(study=study, recruitment=_recruitment(request.POST))
    except StudyUnavailable as exc:
        return render(request, "studyapp/unavailable.html", {"study": study, "reason": exc.reason})
    return redirect("resume", token=participant.token)


def _participant_or_404(token: str) -> Participant:
    participant = participant_by_token(token=token) if len(token) <= 64 else None
    if participant is None:
        raise Http404("unknown session")
    return participant


def _step_url(participant: Participant) -> str:
    step, position = participant_step(participant=participant)
    if step == "trial":
        return reverse("trial", args=[participant.token, position])
    return reverse(step if step != "screened_out" else "declined", args=[participant.token])


@require_GET
def resume(request: HttpRequest, token: str) -> HttpResponse:
    return redirect(_step_url(_participant_or_404(token)))


@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, token: str) -> HttpResponse:
    participant = _participant_or_404(token)
    if participant_step(participant=participant)[0] != "consent":
        return redirect(_step_url(participant))
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        participant_consent(participant=participant, agree=form.cleaned_data["decision"] == "agree")
        return redirect(_step_url(participant))
    return render(request, "studyapp/consent.html", {"participant": participant, "study": participant.study, "form": form},
                  status=400 if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
def instructions(request: HttpRequest, token: str) -> HttpResponse:
    participant = _participant_or_404(token)
    if participant_step(participant=participant)[0] != "instructions":
        return redirect(_step_url(participant))
    if request.method == "POST":
        participant_instructions_done(participant=participant)
        return redirect(_step_url(participant))
    return render(request, "studyapp/instructions.html", {"participant": participant, "study": participant.study})


def _answer_form(participant: Participant, data: Any = None) -> AnswerForm:
    study = participant.study
    return AnswerForm(data, choices=allowed_answers(study), ask_rating=study.ask_rating,
                      ask_confidence=study.ask_confidence)


@require_http_methods(["GET", "POST"])
def trial(request: HttpRequest, token: str, position: int) -> HttpResponse:
    participant = _participant_or_404(token)
    participant_touch(participant=participant)
    if request.method == "POST":
        return _trial_post(request, participant, position)
    step, current = participant_step(participant=participant)
    if step != "trial" or current != position:
        return redirect(_step_url(participant))
    trial_obj = get_object_or_404(
        Trial.objects.select_related("stimulus__original_audio", "stimulus__visual_heatmap",
                                     "stimulus__audible_heatmap", "stimulus__plain_image", "condition"),
        participant=participant, position=position,
    )
    trial_present(trial=trial_obj)
    return _render_trial(request, participant, trial_obj, _answer_form(participant))


def _trial_post(request: HttpRequest, participant: Participant, position: int) -> HttpResponse:
    form = _answer_form(participant, request.POST)
    if not form.is_valid():
        return HttpResponse(f"Bad answer: {form.errors.as_text()}", status=400, content_type="text/plain")
    data = form.cleaned_data
    answer = Answer(answer=data["answer"], rating=data.get("rating"), confidence=data.get("confidence"),
                    rt_ms=data.get("rt_ms"), submission_key=data["submission_key"], events=tuple(data["events"]))
    try:
        response_record(participant=participant, position=position, answer=answer)
    except AnswerRejected as exc:
        if exc.code in {"answered", "order", "state"}:
            # Stale tab or replayed request: send the participant where they belong.
            return redirect(_step_url(participant))
        status = 404 if exc.code == "not_found" else 400
        return HttpResponse(str(exc), status=status, content_type="text/plain")
    return redirect(_step_url(participant))


def _render_trial(request: HttpRequest, participant: Participant, trial_obj: Trial, form: AnswerForm) -> HttpResponse:
    answered, total = participant_progress(participant=participant)
    stim = trial_obj.stimulus
    modality = trial_obj.condition.modality
    context = {
        "participant": participant, "study": participant.study, "trial": trial_obj, "form": form,
        "stimulus": stim, "modality": modality,
        "show_image": modality in {"visual", "both"}, "show_plain_image": modality in {"none", "audible"},
        "play_explanation": modality in {"audible", "both"},
        "answers": allowed_answers(participant.study), "submission_key": secrets.token_urlsafe(16),
        "answered": answered, "total": total, "percent": round(100 * answered / max(total, 1)),
        "timeline": stim.timeline or {},
    }
    return render(request, "studyapp/trial.html", context)


@require_GET
def done(request: HttpRequest, token: str) -> HttpResponse:
    participant = _participant_or_404(token)
    if participant.status != Participant.Status.COMPLETED:
        return redirect(_step_url(participant))
    return render(request, "studyapp/done.html", {"participant": participant, "study": participant.study})


@require_GET
def declined(request: HttpRequest, token: str) -> HttpResponse:
    participant = _participant_or_404(token)
    if participant.status not in {Participant.Status.DECLINED, Participant.Status.SCREENED_OUT}:
        return redirect(_step_url(participant))
    return render(request, "studyapp/declined.html", {"participant": participant, "study": participant.study})


@require_GET
def media(request: HttpRequest, sha256: str, ext: str) -> FileResponse:
    """Serve a stored media file by content hash (names reveal nothing about labels)."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256) or ext not in {"wav", "png"}:
        raise Http404("no such file")
    item = get_object_or_404(MediaFile, sha256=sha256)
    path = media_absolute_path(item)
    if not path.is_file():
        raise Http404("file missing from storage")
    response = FileResponse(open(path, "rb"), content_type=item.media_type)
    response["Cache-Control"] = "private, max-age=86400, immutable"
    response["Accept-Ranges"] = "none"
    return response


def media_url(item: MediaFile) -> str:
    return reverse("media", args=[item.sha256, item.path.rsplit(".", 1)[-1]])


