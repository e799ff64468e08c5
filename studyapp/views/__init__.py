"""Participant-facing views (and the staff preview of them). Thin: check input, call a service, render."""

from studyapp.views.participant import (
    consent,
    declined,
    demographics,
    done,
    entry,
    expired,
    healthz,
    home,
    instructions,
    questions_after,
    questions_before,
    resume,
    screened_out,
    withdraw,
    withdrawn,
)
from studyapp.views.screening import calibration, calibration_sound, screening, screening_sound
from studyapp.views.trials import feedback, media, media_url, trial

__all__ = [
    "calibration",
    "calibration_sound",
    "consent",
    "declined",
    "demographics",
    "done",
    "entry",
    "expired",
    "feedback",
    "healthz",
    "home",
    "instructions",
    "media",
    "media_url",
    "questions_after",
    "questions_before",
    "resume",
    "screened_out",
    "screening",
    "screening_sound",
    "trial",
    "withdraw",
    "withdrawn",
]
