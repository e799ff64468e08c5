"""Helpers for participant tests: a session at a given step, and the audio log of a full listen."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

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
    """The log of a full listen to trial ``position``, with the trial shown long enough ago
    for that listen (the server refuses an answer sooner than its audio takes to play)."""
    trial = Trial.objects.select_related(
        "stimulus__original_audio", "stimulus__audible_heatmap", "condition"
    ).get(participant=participant, position=position)
    events = full_listen(trial)
    shown_long_enough_ago(trial, events)
    return events


def shown_long_enough_ago(trial: Trial, events: Sequence[dict[str, Any]]) -> None:
    """Mark ``trial`` as served long enough ago for the listen ``events`` log (plus a second):
    the server refuses an answer sooner than the trial's audio plays, on its own clock."""
    span_ms = max((float(e["client_ms"]) for e in events), default=0.0)
    shown_at = timezone.now() - timedelta(milliseconds=span_ms + 1000)
    Trial.objects.filter(pk=trial.pk).update(presented_at=shown_at)


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
