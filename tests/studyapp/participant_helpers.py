"""Helpers for participant tests: a session at a given step, and the audio log of a full listen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from studyapp.models import Participant, Study, Trial
from studyapp.services.audio_rules import required_media
from studyapp.services.participants import (
    participant_consent,
    participant_enroll,
    participant_instructions_done,
)


def full_listen(trial: Trial, *, start_ms: float = 10.0) -> tuple[dict[str, Any], ...]:
    """The event log of one complete, real-time play of every clip the trial requires."""
    events: list[dict[str, Any]] = []
    t = start_ms
    for media in required_media(trial):
        item = (
            trial.stimulus.original_audio if media == "original" else trial.stimulus.audible_heatmap
        )
        seconds = item.duration_s or 1.0
        events.append({"media": media, "event": "play", "client_ms": t, "media_time_s": 0.0})
        t += seconds * 1000 + 5
        events.append({"media": media, "event": "ended", "client_ms": t, "media_time_s": seconds})
        t += 200
    return tuple(events)


def listen_to(participant: Participant, position: int) -> tuple[dict[str, Any], ...]:
    return full_listen(
        Trial.objects.select_related(
            "stimulus__original_audio", "stimulus__audible_heatmap", "condition"
        ).get(participant=participant, position=position)
    )


def consented(study: Study, label: str) -> Participant:
    participant, _ = participant_enroll(study=study, recruitment={"participant_label": label})
    participant_consent(participant=participant, agree=True)
    return participant


def at_first_trial(study: Study, label: str) -> Participant:
    """A session that has consented and read the instructions (a study without demographics or screen)."""
    participant = consented(study, label)
    participant_instructions_done(participant=participant)
    return participant


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """Each test starts with empty per-client rate-limit counters (they live in the cache)."""
    cache.clear()
    yield
    cache.clear()
