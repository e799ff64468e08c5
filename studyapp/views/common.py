"""Helpers every participant view shares: finding the session, where it is, how to reply."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from studyapp.models import Participant, Study
from studyapp.selectors.participants import participant_by_token, participant_step
from studyapp.selectors.pictures import bundle_colormap
from studyapp.services.participants import participant_expire_if_idle, participant_touch

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
NO_SESSION = "This link does not belong to a session (it may have been withdrawn)."
# URL name of each step (see selectors.participants.STEPS); steps with a number take it as an argument.
STEP_URL_NAMES = {
    "consent": "consent",
    "demographics": "demographics",
    "questions_before": "questions_before",
    "questions_after": "questions_after",
    "calibration": "calibration",
    "screening": "screening",
    "instructions": "instructions",
    "trial": "trial",
    "done": "done",
    "declined": "declined",
    "screened_out": "screened_out",
    "expired": "expired",
}


def participant_or_404(token: str) -> Participant:
    """The session behind ``token``; expires it if idle too long, and notes the visit."""
    participant = participant_by_token(token=token) if _TOKEN.match(token) else None
    if participant is None:
        raise Http404(NO_SESSION)
    _visited(participant)
    return participant


def _visited(participant: Participant) -> None:
    if not participant_expire_if_idle(participant=participant):
        participant_touch(participant=participant)


def step_url(participant: Participant) -> str:
    step, number = participant_step(participant=participant)
    args: list[Any] = [participant.token] + ([number] if number is not None else [])
    return reverse(STEP_URL_NAMES[step], args=args)


def at_step(participant: Participant, step: str, number: int | None = None) -> bool:
    return participant_step(participant=participant) == (step, number)


# Words for the ends of each colour map the explainer can draw (``explainer.heatmaps``).
COLOUR_WORDS = {"red-blue": ("red", "blue"), "purple-orange": ("orange", "purple")}


def heatmap_colours(study: Study) -> dict[str, str]:
    """The colours that mean "for" and "against" the model's decision in this bundle's images."""
    colormap = bundle_colormap(study.bundle) or "red-blue"
    positive, negative = COLOUR_WORDS.get(colormap, COLOUR_WORDS["red-blue"])
    return {"for": positive, "against": negative}


def page_context(participant: Participant, **extra: Any) -> dict[str, Any]:
    """What every page of a session needs (the withdraw link among it; unsaved previews have none)."""
    context: dict[str, Any] = {
        "participant": participant,
        "study": participant.study,
        "colours": heatmap_colours(participant.study),
    }
    # Seconds the end pages wait before sending the participant back to the recruiter.
    context["redirect_seconds"] = int(getattr(settings, "HEARXAI_REDIRECT_SECONDS", 5))
    if participant.pk:
        context["withdraw_url"] = reverse("withdraw", args=[participant.token])
    context.update(extra)
    return context


def wants_json(request: HttpRequest) -> bool:
    """True for the page scripts' fetch() submissions (forms without JavaScript get redirects)."""
    return request.headers.get("X-Requested-With") == "fetch"


def next_page(request: HttpRequest, url: str) -> HttpResponse:
    """Send the participant on after a stored (or already stored) answer."""
    return JsonResponse({"ok": True, "next": url}) if wants_json(request) else redirect(url)


def stale_page(request: HttpRequest, message: str, url: str) -> HttpResponse:
    """The page was out of date (answered in another tab, replayed request): go where they belong."""
    return (
        JsonResponse({"ok": False, "error": message, "next": url}, status=409)
        if wants_json(request)
        else redirect(url)
    )


def problem(
    request: HttpRequest,
    message: str,
    *,
    status: int = 400,
    continue_url: str = "",
    participant: Participant | None = None,
) -> HttpResponse:
    """A friendly page (or JSON for page scripts) naming what was wrong with a request."""
    if wants_json(request):
        return JsonResponse({"ok": False, "error": message}, status=status)
    context = page_context(participant) if participant else {}
    context.update({"message": message, "continue_url": continue_url})
    return render(request, "studyapp/problem.html", context, status=status)


def answer_not_stored(
    request: HttpRequest, participant: Participant, reason: str, *, status: int = 400
) -> HttpResponse:
    """The problem page (or JSON) for an answer the site refused, leading back to the
    participant's current step."""
    return problem(
        request,
        f"The answer could not be stored: {reason}",
        status=status,
        continue_url=step_url(participant),
        participant=participant,
    )


def first_form_error(form: forms.Form) -> str:
    """The first thing wrong with a submitted form, as one line (``field: message``)."""
    field, errors = next(iter(form.errors.items()))
    return f"{field}: {errors[0]}" if field != "__all__" else str(errors[0])
