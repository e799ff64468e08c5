"""Property-based fuzzing of every participant endpoint, as a state machine over live sessions.

Hypothesis drives three sessions (at the consent page, at the sound check, at the
trials) and a bystander who finished before, with any mix of: every participant URL,
GET or POST, as a form or as the pages' fetch(), trial and sound-check numbers in and
out of range, well-formed answers, malformed and oversized ones, the same answer sent
again (a replay) or with a new key, another session's key, and tokens that belong to
nobody. After every request:

* the server did not fail (Django's test client re-raises anything a view lets through);
* no other session changed at all;
* no trial has a second answer, and a stored answer and its audio log never change
  (the study does not allow going back).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from studyapp.models import AudioEvent, Bundle, Participant, Response, Study, Trial
from studyapp.services.participants import participant_consent, participant_enroll
from studyapp.services.screening import screening_calibrated
from tests.http_participant import listen_log
from tests.security.conftest import every_page_study, walk
from tests.studyapp.participant_helpers import shown_long_enough_ago

pytestmark = pytest.mark.django_db
TOKENED = [
    "resume",
    "consent",
    "demographics",
    "questions_before",
    "questions_after",
    "calibration",
    "calibration_sound",
    "instructions",
    "done",
    "declined",
    "screened_out",
    "expired",
]
NUMBERED = ["trial", "feedback", "screening", "screening_sound"]
FIELDS = [
    "answer",
    "rating",
    "confidence",
    "rt_ms",
    "submission_key",
    "events",
    "decision",
    "plays",
    "age_range",
    "native_language",
]
OVERSIZED = "x" * 3_000_000  # beyond DATA_UPLOAD_MAX_MEMORY_SIZE

junk_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "NaN",
            "-1",
            "1e308",
            "[]",
            "{}",
            "null",
            "3",
            "[" * 3000,
            "\x00",
            "<script>",
            "yes",
            "agree",
        ]
    ),
)
junk_form = st.dictionaries(st.sampled_from(FIELDS), junk_text, max_size=6)


def stored(participant_ids: list[int]) -> dict[int, object]:
    """Everything stored for these sessions, to compare before and after a request."""
    rows: dict[int, object] = {}
    for pk in participant_ids:
        person = Participant.objects.filter(pk=pk).values().first()
        answers = list(
            Response.objects.filter(trial__participant_id=pk).order_by("trial__position").values()
        )
        events = list(
            AudioEvent.objects.filter(trial__participant_id=pk)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        rows[pk] = (person, answers, events)
    return rows


class ParticipantEndpoints(RuleBasedStateMachine):
    study: Study
    bystander: int
    answers_stored = 0  # over all examples: the properties mean little unless answers get through

    @initialize()
    def sessions(self) -> None:
        self.client = Client()
        self.people: dict[str, Participant] = {}
        for step in ("consent", "screen", "trial"):
            person, _ = participant_enroll(
                study=self.study, recruitment={"participant_label": secrets.token_hex(6)}
            )
            if step != "consent":
                participant_consent(participant=person, agree=True)
                person.demographics = {"age_range": "25-34", "native_language": None}
                person.save()
                screening_calibrated(participant=person, plays=1)
            if step == "trial":
                Participant.objects.filter(pk=person.pk).update(
                    screening_passed=True, instructions_seen_at=person.consented_at
                )
            self.people[step] = Participant.objects.get(pk=person.pk)
        self.sent: list[dict[str, str]] = []  # forms that were accepted, to replay
        self.answers_seen: dict[int, tuple[str, str, int]] = {}  # trial -> (answer, key, events)

    def _token(self, who: str) -> str:
        return {"nobody": "N" * 43, "malformed": "short%00"}.get(who) or self.people[who].token

    def _others(self, who: str) -> list[int]:
        return [p.pk for name, p in self.people.items() if name != who] + [self.bystander]

    def _send(self, who: str, method: str, url: str, data: dict[str, str], fetch: bool) -> int:
        others = self._others(who)
        before = stored(others)
        extra = {"HTTP_X_REQUESTED_WITH": "fetch"} if fetch else {}
        reply = (
            self.client.post(url, data, **extra)
            if method == "POST"
            else self.client.get(url, **extra)
        )
        assert reply.status_code < 500, (url, reply.status_code)
        assert stored(others) == before, f"{method} {url} changed another session"
        if reply.status_code in {200, 302} and method == "POST":
            self.sent.append(data)
        return reply.status_code

    @rule(
        who=st.sampled_from(["consent", "screen", "trial", "nobody", "malformed"]),
        name=st.sampled_from(TOKENED),
        method=st.sampled_from(["GET", "POST"]),
        data=junk_form,
        fetch=st.booleans(),
    )
    def session_page(
        self, who: str, name: str, method: str, data: dict[str, str], fetch: bool
    ) -> None:
        self._send(who, method, reverse(name, args=[self._token(who)]), data, fetch)

    @rule(
        who=st.sampled_from(["consent", "screen", "trial", "nobody"]),
        name=st.sampled_from(NUMBERED),
        number=st.one_of(st.integers(0, 12), st.sampled_from([65535, 10**12, 2**63, 10**20])),
        method=st.sampled_from(["GET", "POST"]),
        data=junk_form,
        fetch=st.booleans(),
    )
    def numbered_page(
        self, who: str, name: str, number: int, method: str, data: dict[str, str], fetch: bool
    ) -> None:
        self._send(who, method, reverse(name, args=[self._token(who), number]), data, fetch)

    # Weighted towards the open trial and a valid answer, so that answers do get stored.
    @rule(
        position_offset=st.sampled_from([0, 0, 0, -1, -1, 1, -2, 2]),
        key=st.sampled_from(["fresh", "fresh", "replay", "another session's"]),
        answer_kind=st.sampled_from(["right", "right", "right", "wrong option", "oversized"]),
        fetch=st.booleans(),
    )
    def answer_a_trial(self, position_offset: int, key: str, answer_kind: str, fetch: bool) -> None:
        """A well-formed answer, possibly to the wrong trial, replayed, or under someone else's key."""
        person = self.people["trial"]
        open_trial = (
            Trial.objects.filter(participant=person, response__isnull=True)
            .order_by("position")
            .first()
        )
        position = (open_trial.position if open_trial else 1) + position_offset
        trial = (
            Trial.objects.select_related(
                "stimulus__original_audio", "stimulus__audible_heatmap", "condition"
            )
            .filter(participant=person, position=position)
            .first()
        )
        if trial is None:
            return
        data = self._answer_form(trial, key, answer_kind)
        before = Response.objects.filter(trial=trial).exists()
        self._send("trial", "POST", reverse("trial", args=[person.token, position]), data, fetch)
        ParticipantEndpoints.answers_stored += int(
            not before and Response.objects.filter(trial=trial).exists()
        )

    @rule(fetch=st.booleans())
    def answer_the_open_trial(self, fetch: bool) -> None:
        """What a participant does: answer the current trial (so sessions move on to their end)."""
        self.answer_a_trial(0, "fresh", "right", fetch)

    def _answer_form(self, trial: Trial, key: str, answer_kind: str) -> dict[str, str]:
        audio = {"original": trial.stimulus.original_audio.duration_s}
        if trial.condition.modality in {"audible", "both"}:
            audio["explanation"] = trial.stimulus.audible_heatmap.duration_s
        keys = {
            "fresh": secrets.token_urlsafe(12),
            "another session's": f"key-{self.bystander:08d}-1",
            "replay": self.sent[-1].get("submission_key", "") if self.sent else "replayed-key",
        }
        answer = {
            "right": trial.stimulus.predicted_label,
            "wrong option": "eleven",
            "oversized": OVERSIZED,
        }
        events = listen_log(audio)
        shown_long_enough_ago(trial, events)  # (as if its page had been open that long)
        return {
            "answer": answer[answer_kind],
            "rating": "4",
            "confidence": "60",
            "rt_ms": "1200",
            "submission_key": keys[key] or "replayed-key",
            "events": json.dumps(events),
        }

    @rule()
    def replay_the_last_accepted_request(self) -> None:
        if self.sent:
            person = self.people["trial"]
            open_trial = (
                Trial.objects.filter(participant=person, response__isnull=False)
                .order_by("-position")
                .first()
            )
            if open_trial is not None:
                url = reverse("trial", args=[person.token, open_trial.position])
                self._send("trial", "POST", url, self.sent[-1], fetch=True)

    @invariant()
    def one_unchanging_answer_per_trial(self) -> None:
        if not hasattr(self, "people"):
            return
        mine = [p.pk for p in self.people.values()]
        for response in Response.objects.filter(trial__participant_id__in=mine):
            events = AudioEvent.objects.filter(trial_id=response.trial_id).count()
            seen = (response.answer, response.submission_key, events)
            assert self.answers_seen.setdefault(response.trial_id, seen) == seen, (
                "a stored answer changed"
            )
        per_trial = Response.objects.filter(trial__participant_id__in=mine).values_list(
            "trial_id", flat=True
        )
        assert len(per_trial) == len(set(per_trial))


def test_no_request_to_a_participant_endpoint_fails_or_touches_another_session(
    bundle: Bundle, settings: Any
) -> None:
    settings.RATE_LIMIT_ENTRY_PER_MIN = settings.RATE_LIMIT_ANSWER_PER_MIN = (
        0  # (tested on their own)
    )
    study = every_page_study(bundle, n_trials=4)
    assert walk(study, "bystander")
    ParticipantEndpoints.study, ParticipantEndpoints.answers_stored = study, 0
    ParticipantEndpoints.bystander = Participant.objects.get(participant_label="bystander").pk
    run_state_machine_as_test(
        ParticipantEndpoints,
        settings=hypothesis_settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    assert ParticipantEndpoints.answers_stored >= 20, ParticipantEndpoints.answers_stored
