"""A participant's token opens their own session and nothing else.

Tokens are 256 random bits; every page of a session shows only that session; whatever
a participant sends with their own token (any page, any trial number, any answer)
touches only their own rows; media URLs name content, never a session.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from studyapp.models import AudioEvent, Bundle, Participant, Response, Trial
from studyapp.services.participants import (
    participant_consent,
    participant_enroll,
    participant_instructions_done,
)
from tests.security.conftest import Recorded, every_page_study, walk

pytestmark = pytest.mark.django_db


def _rows_of(participant: Participant) -> list[object]:
    """Everything stored for one session."""
    person = Participant.objects.filter(pk=participant.pk).values().first()
    trials = list(Trial.objects.filter(participant=participant).order_by("position").values())
    responses = list(
        Response.objects.filter(trial__participant=participant).order_by("trial__position").values()
    )
    events = list(AudioEvent.objects.filter(trial__participant=participant).order_by("pk").values())
    return [person, trials, responses, events]


@pytest.fixture
def pair(bundle: Bundle) -> dict[str, Any]:
    study = every_page_study(
        bundle, n_practice=0, n_catch=0, headphone_screen=False, demographics=[]
    )
    people = {}
    for label in ("alice", "bob"):
        person, _ = participant_enroll(study=study, recruitment={"participant_label": label})
        participant_consent(participant=person, agree=True)
        participant_instructions_done(participant=person)
        people[label] = person
    return {"study": study, **people}


def test_tokens_are_long_random_and_distinct(bundle: Bundle) -> None:
    study = every_page_study(bundle)
    tokens = [
        participant_enroll(study=study, recruitment={"participant_label": f"t{i}"})[0].token
        for i in range(50)
    ]
    assert len(set(tokens)) == 50
    assert all(
        re.fullmatch(r"[A-Za-z0-9_-]{43}", t) for t in tokens
    )  # secrets.token_urlsafe(32): 256 bits
    assert len({t[:8] for t in tokens}) == 50  # no shared prefix or counter


def test_every_page_of_a_session_shows_only_that_session(bundle: Bundle) -> None:
    study = every_page_study(bundle)
    assert walk(study, "other")
    other = Participant.objects.get(participant_label="other")
    record = Recorded()
    assert walk(study, "me", record)
    me = Participant.objects.get(participant_label="me")
    for path, response in record.responses:
        html = response.content.decode(errors="replace")
        assert other.token not in html and other.pseudonym not in html, path
        assert me.token in path or "/s/" in path, (
            path
        )  # every session page is under this session's token
    media = {
        m
        for _, r in record.responses
        for m in re.findall(r'src="(/m/[^"]+)"', r.content.decode(errors="replace"))
    }
    assert media and all(
        re.fullmatch(r"/m/[0-9a-f]{64}\.(wav|png)", m) for m in media
    )  # content hashes only


def test_nothing_sent_with_one_token_changes_another_session(pair: dict[str, Any]) -> None:
    alice, bob = pair["alice"], pair["bob"]
    client = Client()
    first = Trial.objects.select_related("stimulus__original_audio").get(
        participant=bob, position=1
    )
    events = json.dumps(
        [
            {"media": "original", "event": "play", "client_ms": 1.0, "media_time_s": 0.0},
            {"media": "original", "event": "ended", "client_ms": 5000.0, "media_time_s": 1.0},
        ]
    )
    before = _rows_of(bob)
    for position in (1, 2, 3, 0, 99):
        data = {
            "answer": first.stimulus.predicted_label,
            "rating": "4",
            "confidence": "50",
            "rt_ms": "900",
            "submission_key": f"key-{position:05d}",
            "events": events,
        }
        client.post(
            reverse("trial", args=[alice.token, position]), data, HTTP_X_REQUESTED_WITH="fetch"
        )
        client.get(reverse("trial", args=[alice.token, position]))
        client.get(reverse("feedback", args=[alice.token, position]))
    for name in (
        "consent",
        "demographics",
        "questions_before",
        "questions_after",
        "instructions",
        "calibration",
        "done",
    ):
        client.post(reverse(name, args=[alice.token]), {"decision": "decline", "plays": "1"})
    client.post(reverse("withdraw", args=[alice.token]))
    assert not Participant.objects.filter(pk=alice.pk).exists()  # alice withdrew herself...
    assert _rows_of(bob) == before  # ...and bob's session is exactly as it was


def test_a_token_that_differs_by_one_character_opens_nothing(pair: dict[str, Any]) -> None:
    token = pair["bob"].token
    near = token[:-1] + ("A" if token[-1] != "A" else "B")
    client = Client()
    for name in ("resume", "consent", "instructions", "done", "withdraw"):
        assert client.get(reverse(name, args=[near])).status_code == 404, name
    assert client.get(reverse("trial", args=[near, 1])).status_code == 404
    assert client.post(reverse("withdraw", args=[near])).status_code == 404
    assert Participant.objects.filter(pk=pair["bob"].pk).exists()
