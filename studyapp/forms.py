"""Participant forms: they check the shape of input; services decide the rest."""

from __future__ import annotations

import json
from typing import Any

from django import forms

MAX_EVENTS = 500
EVENT_NAMES = {"play", "pause", "ended", "replay", "seek_blocked"}


class ConsentForm(forms.Form):
    decision = forms.ChoiceField(choices=[("agree", "I agree"), ("decline", "I do not agree")])


class AnswerForm(forms.Form):
    answer = forms.CharField(max_length=64)
    rating = forms.IntegerField(min_value=1, max_value=7, required=False)
    confidence = forms.IntegerField(min_value=0, max_value=100, required=False)
    rt_ms = forms.FloatField(min_value=0, max_value=24 * 3600 * 1000, required=False)
    submission_key = forms.RegexField(regex=r"^[A-Za-z0-9_-]{8,64}$", max_length=64)
    events = forms.CharField(required=False, max_length=100_000)

    def __init__(self, *args: Any, choices: list[str], ask_rating: bool, ask_confidence: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["answer"] = forms.ChoiceField(choices=[(c, c) for c in choices])
        self.fields["rating"].required = ask_rating
        self.fields["confidence"].required = ask_confidence

    def clean_events(self) -> list[dict[str, Any]]:
        raw = self.cleaned_data.get("events") or "[]"
        try:
            events = json.loads(raw)
        except json.JSONDecodeError:
            raise forms.ValidationError("events is not valid JSON") from None
        if not isinstance(events, list) or len(events) > MAX_EVENTS:
            raise forms.ValidationError(f"events must be a list of at most {MAX_EVENTS} items")
        return [self._clean_event(e) for e in events]

    @staticmethod
    def _clean_event(event: Any) -> dict[str, Any]:
        if not isinstance(event, dict):
            raise forms.ValidationError("each event must be an object")
        media, name, client_ms = event.get("media"), event.get("event"), event.get("client_ms")
        position = event.get("media_time_s")
        if media not in {"original", "explanation"} or name not in EVENT_NAMES:
            raise forms.ValidationError("unknown event media or name")
        if not isinstance(client_ms, (int, float)) or isinstance(client_ms, bool) or not 0 <= client_ms < 1e10:
            raise forms.ValidationError("event client_ms must be a non-negative number")
        if position is not None and (not isinstance(position, (int, float)) or not 0 <= position < 3600):
            raise forms.ValidationError("event media_time_s must be a number of seconds")
        return {"media": media, "event": name, "client_ms": float(client_ms),
                "media_time_s": None if position is None else float(position)}
