"""The trial runner's server side: the server's own clock, ratings only with an
explanation, focus and visibility, and the preload list of the next trial's media."""

from __future__ import annotations

import json
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from studyapp.models import Bundle, Participant, Response, Study, Trial
from studyapp.selectors.exports import event_rows, trial_rows
from studyapp.services.audio_rules import listening_floor_s
from studyapp.services.studies import study_create
from studyapp.views.trials import trial_media_urls
from tests.studyapp.participant_helpers import (
    at_first_trial,
    fresh_rate_limits,  # noqa: F401  (autouse fixture)
    full_listen,
)

pytestmark = pytest.mark.django_db
FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


def runner_study(bundle: Bundle, modality: str = "visual", **fields: Any) -> Study:
    return study_create(
        slug=f"runner-{modality}",
        title="Runner",
        bundle=bundle,
        status=Study.Status.LIVE,
        conditions=[(modality, modality, "")],
        n_trials=3,
        consent_text="Consent.",
        **fields,
    )


def first_trial(participant: Participant) -> Trial:
    return Trial.objects.select_related(
        "stimulus__original_audio", "stimulus__audible_heatmap", "condition", "participant__study"
    ).get(participant=participant, position=1)


def forged_answer(trial: Trial, **extra: str) -> dict[str, str]:
    """An answer whose log claims complete plays of every clip (what a script can send at once)."""
    return {
        "answer": "3",
        "rt_ms": "500",
        "submission_key": "key-forged-01",
        "events": json.dumps(list(full_listen(trial))),
        **extra,
    }


def test_an_answer_sooner_than_its_audio_plays_is_refused_however_complete_its_log(
    bundle: Bundle, client: Client, server_clock: time_machine.Coordinates
) -> None:
    participant = at_first_trial(runner_study(bundle, "audible"), "forger")
    url = reverse("trial", args=[participant.token, 1])
    assert client.get(url).status_code == 200  # served now, on the server's clock
    trial = first_trial(participant)
    floor = listening_floor_s(study=participant.study, trial=trial)
    # Two clips of a second each, heard one after the other: 0.8 x 2 s less 150 ms.
    assert floor == pytest.approx(0.8 * 2.0 - 0.15, abs=0.02)
    early = client.post(url, forged_answer(trial), **FETCH)
    assert early.status_code == 400
    assert "sooner than its audio takes to play" in early.json()["error"]
    assert not Response.objects.exists()
    server_clock.shift(floor)
    assert client.post(url, forged_answer(trial), **FETCH).status_code == 200
    assert Response.objects.get().server_rt_ms >= floor * 1000


def test_an_answer_to_a_trial_never_shown_sends_the_page_to_the_trial(
    bundle: Bundle, client: Client
) -> None:
    participant = at_first_trial(runner_study(bundle), "unseen")
    url = reverse("trial", args=[participant.token, 1])
    reply = client.post(url, forged_answer(first_trial(participant)), **FETCH)
    assert reply.status_code == 409 and reply.json()["next"] == url
    assert not Response.objects.exists()


def test_a_study_without_listening_to_the_end_has_no_floor(bundle: Bundle) -> None:
    participant = at_first_trial(runner_study(bundle, audio_must_finish=False), "free")
    assert listening_floor_s(study=participant.study, trial=first_trial(participant)) == 0.0


@pytest.mark.parametrize(("modality", "asked"), [("none", False), ("visual", True)])
def test_the_helpfulness_rating_is_asked_only_where_there_is_an_explanation(
    bundle: Bundle,
    client: Client,
    server_clock: time_machine.Coordinates,
    modality: str,
    asked: bool,
) -> None:
    participant = at_first_trial(runner_study(bundle, modality, ask_rating=True), "rater")
    url = reverse("trial", args=[participant.token, 1])
    page = client.get(url).content.decode()
    assert ("How helpful was the explanation?" in page) is asked
    server_clock.shift(5)
    reply = client.post(url, forged_answer(first_trial(participant)), **FETCH)
    if asked:  # required where asked ...
        assert reply.status_code == 400 and "rating" in reply.json()["error"]
    else:  # ... and never stored where it was not
        assert reply.status_code == 200 and Response.objects.get().rating is None


def test_focus_and_visibility_losses_are_stored_with_the_answer(
    bundle: Bundle, client: Client, server_clock: time_machine.Coordinates
) -> None:
    participant = at_first_trial(runner_study(bundle), "wanderer")
    url = reverse("trial", args=[participant.token, 1])
    client.get(url)
    server_clock.shift(5)
    seen = {"focus_losses": "2", "hidden_count": "1", "hidden_ms": "4250.5"}
    reply = client.post(url, forged_answer(first_trial(participant), **seen), **FETCH)
    assert reply.status_code == 200
    stored = Response.objects.get()
    assert (stored.focus_losses, stored.hidden_count, stored.hidden_ms) == (2, 1, 4250.5)


def test_each_trial_page_preloads_the_media_of_the_trial_after_it(
    bundle: Bundle, client: Client
) -> None:
    participant = at_first_trial(runner_study(bundle, "audible"), "preloader")
    page = client.get(reverse("trial", args=[participant.token, 1])).content.decode()
    second = Trial.objects.select_related(
        "condition",
        "stimulus__original_audio",
        "stimulus__audible_heatmap",
        "stimulus__plain_image",
    ).get(participant=participant, position=2)
    urls = trial_media_urls(participant.study, second)
    assert len(urls) == 3  # the recording, the audible explanation, the plain waveform
    assert f'data-preload="{" ".join(urls)}"' in page


def test_the_export_flags_fast_answers_and_logs_longer_than_the_servers_clock(
    bundle: Bundle, client: Client, server_clock: time_machine.Coordinates
) -> None:
    study = runner_study(bundle)
    participant = at_first_trial(study, "flagged")
    for position, (rt, shift_s) in enumerate([("150", 5.0), ("900", 1.0)], start=1):
        url = reverse("trial", args=[participant.token, position])
        client.get(url)
        server_clock.shift(shift_s)
        trial = Trial.objects.select_related(
            "stimulus__original_audio", "stimulus__audible_heatmap", "condition"
        ).get(participant=participant, position=position)
        events = list(full_listen(trial))
        if position == 2:  # a log claiming 4 s of events, 1 s after the trial was shown
            events.append(
                {**events[-1], "event": "pause", "client_ms": events[-1]["client_ms"] + 3000}
            )
        data = {**forged_answer(trial), "rt_ms": rt, "submission_key": f"key-flag-{position}"}
        reply = client.post(url, {**data, "events": json.dumps(events)}, **FETCH)
        assert reply.status_code == 200, reply.content
    rows = list(trial_rows(study, include_pilot=True))
    assert [(r["flag_fast"], r["flag_log_implausible"]) for r in rows] == [
        (True, False),
        (False, True),
    ]
    assert rows[1]["log_span_ms"] == pytest.approx(events[-1]["client_ms"] - events[0]["client_ms"])


def test_the_headphone_screens_plays_are_in_the_event_log(bundle: Bundle) -> None:
    study = runner_study(bundle, headphone_screen=True)
    participant = at_first_trial(study, "screened")
    plays = [
        {"media": "screening", "event": "play", "client_ms": 12.5, "media_time_s": 0.0},
        {"media": "screening", "event": "ended", "client_ms": 4015.0, "media_time_s": 4.0},
    ]
    participant.screening = {"answers": [{"trial": 1, "answer": 2, "events": plays}]}
    participant.save(update_fields=["screening"])
    rows = [r for r in event_rows(study, include_pilot=True) if r["media"] == "screening"]
    assert [(r["participant"], r["trial_position"], r["event"], r["client_ms"]) for r in rows] == [
        (participant.pseudonym, 1, "play", 12.5),
        (participant.pseudonym, 1, "ended", 4015.0),
    ]
