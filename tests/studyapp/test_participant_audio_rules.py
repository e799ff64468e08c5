"""The audio rules, checked on the server against the browser's event log."""

from __future__ import annotations

from typing import Any

import pytest

from studyapp.models import Bundle, Study, Trial
from studyapp.services.audio_rules import audio_rule_problems, heard_to_end, play_count
from studyapp.services.studies import study_create
from tests.studyapp.participant_helpers import (
    consented,
    fresh_rate_limits,  # noqa: F401  (autouse fixture)
    full_listen,
)

pytestmark = pytest.mark.django_db


def ev(
    media: str, event: str, client_ms: float, media_time_s: float | None = 0.0
) -> dict[str, Any]:
    return {"media": media, "event": event, "client_ms": client_ms, "media_time_s": media_time_s}


def first_trial(bundle: Bundle, modality: str = "visual", **fields: Any) -> tuple[Study, Trial]:
    study = study_create(
        slug=f"rules-{modality}",
        title="Rules",
        bundle=bundle,
        status=Study.Status.LIVE,
        conditions=[(modality, modality, "")],
        n_trials=2,
        consent_text="Consent.",
        **fields,
    )
    participant = consented(study, f"p-{modality}")
    trial = Trial.objects.select_related(
        "stimulus__original_audio", "stimulus__audible_heatmap", "condition"
    ).get(participant=participant, position=1)
    return study, trial


def test_a_play_that_ran_for_the_clips_length_counts_as_heard_to_the_end() -> None:
    assert heard_to_end(
        [ev("original", "play", 100), ev("original", "ended", 1100, 1.0)],
        media="original",
        duration_s=1.0,
    )


def test_an_ended_that_comes_too_soon_does_not_count() -> None:
    events = [ev("original", "play", 100), ev("original", "ended", 400, 1.0)]
    assert not heard_to_end(events, media="original", duration_s=1.0)
    assert heard_to_end(
        events, media="original", duration_s=None
    )  # duration unknown: only the ended event is checked


def test_pauses_and_resumptions_add_up_but_a_restart_begins_again() -> None:
    paused = [
        ev("original", "play", 0),
        ev("original", "pause", 500, 0.5),
        ev("original", "play", 9000, 0.5),
        ev("original", "ended", 9500, 1.0),
    ]
    assert heard_to_end(paused, media="original", duration_s=1.0)
    restarted = [
        ev("original", "play", 0),
        ev("original", "pause", 500, 0.5),
        ev("original", "play", 900, 0.0),
        ev("original", "ended", 1200, 1.0),
    ]
    assert not heard_to_end(restarted, media="original", duration_s=1.0)


def test_events_of_another_player_do_not_count() -> None:
    assert not heard_to_end(
        [ev("explanation", "play", 0), ev("explanation", "ended", 1000)],
        media="original",
        duration_s=1.0,
    )


def test_plays_count_starts_from_the_beginning_not_resumptions() -> None:
    events = [
        ev("original", "play", 0),
        ev("original", "pause", 300, 0.3),
        ev("original", "play", 400, 0.3),
        ev("original", "ended", 1100, 1.0),
        ev("original", "replay", 1500),
        ev("original", "ended", 2500, 1.0),
    ]
    assert play_count(events, media="original") == 2
    assert play_count(events, media="explanation") == 0


def test_a_full_listen_passes_in_every_modality(bundle: Bundle) -> None:
    for modality in ("visual", "audible", "both", "none"):
        study, trial = first_trial(bundle, modality)
        assert audio_rule_problems(study=study, trial=trial, events=full_listen(trial)) == [], (
            modality
        )


def test_the_explanation_must_be_heard_where_the_condition_plays_it(bundle: Bundle) -> None:
    study, trial = first_trial(bundle, "audible")
    only_original = [e for e in full_listen(trial) if e["media"] == "original"]
    assert audio_rule_problems(study=study, trial=trial, events=only_original) == [
        "the audible explanation was not heard to the end"
    ]


def test_too_many_replays_are_refused(bundle: Bundle) -> None:
    study, trial = first_trial(bundle, "visual", max_replays=1)
    events = list(full_listen(trial)) + [
        ev("original", "replay", 5000),
        ev("original", "ended", 6100, 1.0),
        ev("original", "replay", 7000),
        ev("original", "ended", 8100, 1.0),
    ]
    assert audio_rule_problems(study=study, trial=trial, events=events) == [
        "the recording was replayed 2 times; the study allows 1"
    ]


def test_events_for_a_player_the_page_does_not_have_are_refused(bundle: Bundle) -> None:
    study, trial = first_trial(bundle, "visual")
    events = list(full_listen(trial)) + [ev("explanation", "play", 5000)]
    assert audio_rule_problems(study=study, trial=trial, events=events) == [
        "events for the audible explanation player, which this trial does not have"
    ]


def test_without_the_must_finish_rule_an_answer_needs_no_listening(bundle: Bundle) -> None:
    study, trial = first_trial(bundle, "both", audio_must_finish=False)
    assert audio_rule_problems(study=study, trial=trial, events=[]) == []


def test_with_seeking_allowed_the_listening_time_is_not_checked(bundle: Bundle) -> None:
    study, trial = first_trial(bundle, "visual", allow_seeking=True)
    skipped = [ev("original", "play", 0), ev("original", "ended", 200, 1.0)]
    assert audio_rule_problems(study=study, trial=trial, events=skipped) == []
    study.allow_seeking = False
    assert audio_rule_problems(study=study, trial=trial, events=skipped) == [
        "the recording was not heard to the end"
    ]
