"""Participant forms: they check the shape of input; services decide the rest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django import forms

from studyapp.models import Question

MAX_EVENTS = 500
EVENT_NAMES = {"play", "pause", "ended", "replay", "seek_blocked"}
MEDIA_NAMES = {"original", "explanation", "partner"}
# client_ms counts from the first time the page was opened in this tab; a day is plenty.
MAX_CLIENT_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class BuiltInQuestion:
    label: str
    choices: tuple[tuple[str, str], ...] = ()
    help_text: str = ""


PREFER_NOT = ("prefer not to say", "Prefer not to say")
# The demographic questions a study can ask (``Study.demographics`` lists their keys).
# Stored values are the first element of each choice; the export uses them verbatim.
DEMOGRAPHIC_QUESTIONS: dict[str, BuiltInQuestion] = {
    "age_range": BuiltInQuestion(
        "What is your age?",
        (
            ("18-24", "18 to 24"),
            ("25-34", "25 to 34"),
            ("35-44", "35 to 44"),
            ("45-54", "45 to 54"),
            ("55-64", "55 to 64"),
            ("65+", "65 or older"),
            PREFER_NOT,
        ),
    ),
    "hearing_problems": BuiltInQuestion(
        "Do you have any hearing problems (for example hearing loss or tinnitus)?",
        (("no", "No"), ("yes", "Yes"), ("not sure", "Not sure"), PREFER_NOT),
    ),
    "native_language": BuiltInQuestion(
        "What is your native language?",
        help_text="For example English. Leave empty if you prefer not to say.",
    ),
    "audio_device": BuiltInQuestion(
        "How are you listening to the sounds in this study?",
        (
            ("headphones", "Headphones or earphones"),
            ("speakers", "Loudspeakers (including laptop or phone speakers)"),
        ),
    ),
}


class ConsentForm(forms.Form):
    decision = forms.ChoiceField(choices=[("agree", "I agree"), ("decline", "I do not agree")])


class DemographicsForm(forms.Form):
    """One field per question the study asks, in the study's order."""

    def __init__(self, *args: Any, questions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key in questions:
            question = DEMOGRAPHIC_QUESTIONS.get(key)
            if question is None:
                continue  # an unknown key in the study design is skipped, not shown broken
            if question.choices:
                field: forms.Field = forms.ChoiceField(
                    label=question.label,
                    choices=question.choices,
                    widget=forms.RadioSelect,
                    error_messages={"required": "Please choose one of the options."},
                )
            else:
                field = forms.RegexField(
                    label=question.label,
                    required=False,
                    max_length=64,
                    help_text=question.help_text,
                    strip=True,
                    regex=r"^[^\W\d_](?:[^\W\d_]|[ ,.'()\-]){0,63}$",
                    widget=forms.TextInput(attrs={"autocomplete": "off"}),
                    error_messages={"invalid": "Please use letters only (for example: English)."},
                )
            self.fields[key] = field

    def answers(self) -> dict[str, str | None]:
        return {
            key: (value.strip() or None) if isinstance(value, str) else value
            for key, value in self.cleaned_data.items()
        }


MAX_TEXT_ANSWER = 500


class QuestionsForm(forms.Form):
    """One field per custom question of a page (``studyapp.models.Question``), in order."""

    def __init__(self, *args: Any, questions: list[Question], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for question in questions:
            field = _question_field(question)
            field.label, field.required = question.text, question.required
            # A scale reads left to right on one row; other options are stacked.
            field.layout = "scale" if question.kind == Question.Kind.LIKERT else "stacked"
            field.error_messages["required"] = (
                "Please answer this question."
                if question.kind in {Question.Kind.SHORT_TEXT, Question.Kind.NUMBER}
                else "Please choose one of the options."
            )
            self.fields[question.column] = field

    def answers(self) -> dict[str, Any]:
        """The answers to store: an unanswered optional question is None."""
        return {k: (None if v in ("", None) else v) for k, v in self.cleaned_data.items()}


def _question_field(question: Question) -> forms.Field:
    options = question.option_list
    if question.kind == Question.Kind.SINGLE_CHOICE:
        return forms.ChoiceField(choices=[(o, o) for o in options], widget=forms.RadioSelect)
    if question.kind == Question.Kind.MULTIPLE_CHOICE:
        return forms.MultipleChoiceField(
            choices=[(o, o) for o in options], widget=forms.CheckboxSelectMultiple
        )
    if question.kind == Question.Kind.LIKERT:
        return forms.TypedChoiceField(
            choices=[(i, f"{i}: {label}") for i, label in enumerate(options, start=1)],
            coerce=int,
            empty_value=None,
            widget=forms.RadioSelect,
        )
    if question.kind == Question.Kind.NUMBER:
        return forms.FloatField(min_value=question.minimum, max_value=question.maximum)
    return forms.CharField(max_length=MAX_TEXT_ANSWER, strip=True)


class EventLogField(forms.CharField):
    """The browser's audio event log: a JSON list of {media, event, client_ms, media_time_s}."""

    def __init__(self, *, media: set[str] = MEDIA_NAMES, **kwargs: Any) -> None:
        self.media = media
        super().__init__(required=False, max_length=100_000, **kwargs)

    def clean(self, value: Any) -> list[dict[str, Any]]:  # type: ignore[override]
        raw = super().clean(value) or "[]"
        try:
            events = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):  # deep nesting exhausts the parser's stack
            raise forms.ValidationError("events is not valid JSON") from None
        if not isinstance(events, list) or len(events) > MAX_EVENTS:
            raise forms.ValidationError(f"events must be a list of at most {MAX_EVENTS} items")
        return [self._clean_event(e) for e in events]

    def _clean_event(self, event: Any) -> dict[str, Any]:
        if not isinstance(event, dict):
            raise forms.ValidationError("each event must be an object")
        media, name, client_ms = event.get("media"), event.get("event"), event.get("client_ms")
        position = event.get("media_time_s")
        if media not in self.media or name not in EVENT_NAMES:
            raise forms.ValidationError("unknown event media or name")
        if not _is_number(client_ms) or not 0 <= client_ms < MAX_CLIENT_MS:
            raise forms.ValidationError(
                "event client_ms must be a non-negative number of milliseconds"
            )
        if position is not None and (not _is_number(position) or not 0 <= position < 3600):
            raise forms.ValidationError("event media_time_s must be a number of seconds")
        return {
            "media": media,
            "event": name,
            "client_ms": float(client_ms),
            "media_time_s": None if position is None else float(position),
        }


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    )  # not NaN


class TimedForm(forms.Form):
    rt_ms = forms.FloatField(min_value=0, max_value=MAX_CLIENT_MS, required=False)
    submission_key = forms.RegexField(regex=r"^[A-Za-z0-9_-]{8,64}$", max_length=64)


class AnswerForm(TimedForm):
    answer = forms.CharField(max_length=64)
    rating = forms.IntegerField(min_value=1, max_value=7, required=False)
    confidence = forms.IntegerField(min_value=0, max_value=100, required=False)
    events = EventLogField()
    # Focus and visibility while the trial was shown (the page's counts; absent without JavaScript).
    focus_losses = forms.IntegerField(min_value=0, max_value=100_000, required=False)
    hidden_count = forms.IntegerField(min_value=0, max_value=100_000, required=False)
    hidden_ms = forms.FloatField(min_value=0, max_value=MAX_CLIENT_MS, required=False)

    def __init__(self, *args: Any, choices: list[str], ask_confidence: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A set checked in clean_answer rather than a ChoiceField built per form: this
        # form is made for every answer, and building the field cost more than the check.
        self.choices = frozenset(choices)
        # (Whether a rating is required depends on the trial's condition: the service checks it.)
        self.fields["confidence"].required = ask_confidence

    def clean_answer(self) -> str:
        value = self.cleaned_data["answer"]
        if value not in self.choices:
            raise forms.ValidationError(
                f"Select a valid choice. {value} is not one of the available choices."
            )
        return value


class CalibrationForm(forms.Form):
    plays = forms.IntegerField(
        min_value=1,
        max_value=1000,
        error_messages={
            "required": "Please play the sound first.",
            "min_value": "Please play the sound first.",
        },
    )


class ScreeningAnswerForm(TimedForm):
    answer = forms.TypedChoiceField(choices=[("1", "1"), ("2", "2"), ("3", "3")], coerce=int)
    events = EventLogField(media={"screening"})
