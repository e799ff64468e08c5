"""Every participant endpoint answers bad input with a clear 4xx page, never a server error.

Django's test client re-raises any exception a view lets through, so a 500 anywhere
here fails the test with its traceback.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studyapp.models import Bundle, Participant, Response, Study
from studyapp.services.screening import screening_calibrated
from studyapp.services.studies import study_create
from tests.studyapp.participant_helpers import (
    consented,
    fresh_rate_limits,  # noqa: F401  (autouse fixture)
    listen_to,
)

pytestmark = pytest.mark.django_db
FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}
OK = {200, 302, 400, 403, 404, 405, 409}


@pytest.fixture
def site(bundle: Bundle) -> dict[str, Any]:
    study = study_create(
        slug="bad",
        title="Bad input",
        bundle=bundle,
        status=Study.Status.LIVE,
        consent_text="C.",
        conditions=[("both", "both", "")],
        n_trials=3,
        n_practice=1,
        ask_rating=True,
        demographics=["age_range", "native_language"],
        headphone_screen=True,
    )
    at_consent = Participant.objects.get(pk=consented(study, "c").pk)
    at_consent.consented_at, at_consent.status = None, "started"
    at_consent.save()
    at_demographics = consented(study, "d")
    at_screen = consented(study, "s")
    at_screen.demographics = {"age_range": "18-24", "native_language": None}
    at_screen.save()
    screening_calibrated(participant=at_screen, plays=1)
    at_trial = consented(study, "t")
    at_trial.demographics, at_trial.screening_passed = (
        {"age_range": "18-24", "native_language": None},
        True,
    )
    at_trial.instructions_seen_at = at_trial.consented_at
    at_trial.save()
    return {
        "study": study,
        "consent": at_consent,
        "demographics": at_demographics,
        "screen": at_screen,
        "trial": at_trial,
    }


def _check(response: Any) -> None:
    assert response.status_code in OK, (response.status_code, response.content[:300])
    # (405 is Django's bare reply to a method no page of ours sends; no participant meets it.)
    if (
        response.status_code >= 400
        and response.status_code != 405
        and response.get("Content-Type", "").startswith("text/html")
    ):
        assert b"<h1>" in response.content  # a page written for people, not a traceback


BAD_TOKENS = [
    "x",
    "a" * 65,
    "%00",
    "..%2F..%2Fetc",
    "ñandú-token-ñandú-token",
    "A" * 43,
    "' OR 1=1 --",
]


SESSION_PAGES = [
    "resume",
    "consent",
    "demographics",
    "calibration",
    "instructions",
    "done",
    "declined",
    "screened_out",
    "expired",
    "withdraw",
    "calibration_sound",
]


def test_unknown_or_malformed_session_links_get_a_friendly_404(
    client: Client, site: dict[str, Any]
) -> None:
    for name in SESSION_PAGES:
        for token in BAD_TOKENS:
            for method in (client.get, client.post):
                response = method(reverse(name, args=[token]))
                _check(response)
                assert response.status_code in {404, 405}, (name, token)


def test_numbered_pages_with_numbers_out_of_range_are_refused_or_redirected(
    client: Client, site: dict[str, Any]
) -> None:
    for name in ("trial", "feedback", "screening", "screening_sound"):
        for number in (0, 2, 99, 65535, 10**12):
            for who in ("consent", "screen", "trial"):
                url = reverse(name, args=[site[who].token, number])
                _check(client.get(url))
                if name in {"trial", "screening"}:
                    _check(client.post(url, {"answer": "1"}))
                    _check(client.post(url, {"answer": "1"}, **FETCH))
    assert not Response.objects.exists()


def _trial_data(site: dict[str, Any], **changes: Any) -> dict[str, Any]:
    participant = site["trial"]
    data = {
        "answer": "3",
        "rating": "4",
        "rt_ms": "900",
        "submission_key": "key-0000001",
        "events": json.dumps(list(listen_to(participant, 1))),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


TRIAL_BREAKAGE = [
    {"answer": None},
    {"answer": "eleven"},
    {"answer": "3" * 100},
    {"rating": "8"},
    {"rating": "0"},
    {"rating": "x"},
    {"rating": None},
    {"confidence": "101"},
    {"rt_ms": "-1"},
    {"rt_ms": "1e308"},
    {"rt_ms": "NaN"},
    {"rt_ms": "soon"},
    {"submission_key": None},
    {"submission_key": "short"},
    {"submission_key": "bad key with spaces"},
    {"events": "not json"},
    {"events": "{}"},
    {"events": "[1, 2]"},
    {"events": json.dumps([{"media": "original"}])},
    {"events": json.dumps([{"media": "radio", "event": "play", "client_ms": 1}])},
    {"events": json.dumps([{"media": "original", "event": "explode", "client_ms": 1}])},
    {"events": json.dumps([{"media": "original", "event": "play", "client_ms": -5}])},
    {"events": json.dumps([{"media": "original", "event": "play", "client_ms": True}])},
    {"events": json.dumps([{"media": "original", "event": "play", "client_ms": "1"}])},
    {"events": '[{"media": "original", "event": "play", "client_ms": NaN}]'},
    {"events": '[{"media": "original", "event": "play", "client_ms": Infinity}]'},
    {
        "events": json.dumps(
            [{"media": "original", "event": "play", "client_ms": 1, "media_time_s": 1e9}]
        )
    },
    {"events": json.dumps([{"media": "original", "event": "play", "client_ms": 1}] * 501)},
    {"events": "[" * 5000 + "]" * 5000},
    {"events": "[]"},
]


def test_malformed_answers_are_refused_and_nothing_is_stored(
    client: Client, site: dict[str, Any]
) -> None:
    url = reverse("trial", args=[site["trial"].token, 1])
    for changes in TRIAL_BREAKAGE:
        page = client.post(url, _trial_data(site, **changes))
        assert page.status_code == 400 and b"could not be stored" in page.content, changes
        reply = client.post(url, _trial_data(site, **changes), **FETCH)
        assert reply.status_code == 400 and reply.json()["ok"] is False and reply.json()["error"], (
            changes
        )
    assert not Response.objects.exists()


def test_a_well_formed_answer_in_the_same_setting_is_stored(
    client: Client, site: dict[str, Any]
) -> None:
    reply = client.post(reverse("trial", args=[site["trial"].token, 1]), _trial_data(site), **FETCH)
    assert reply.status_code == 200 and Response.objects.count() == 1


def test_consent_without_a_clear_decision_asks_again(client: Client, site: dict[str, Any]) -> None:
    for data in ({}, {"decision": "maybe"}, {"decision": "agree" * 100}):
        response = client.post(reverse("consent", args=[site["consent"].token]), data)
        assert (
            response.status_code == 400 and b"Please choose whether you agree" in response.content
        )
    assert Participant.objects.get(pk=site["consent"].pk).status == "started"


def test_bad_demographic_answers_are_shown_again_with_the_problem(
    client: Client, site: dict[str, Any]
) -> None:
    for data in (
        {},
        {"age_range": "12-17"},
        {"age_range": "18-24", "native_language": "<script>"},
        {"age_range": "18-24", "native_language": "x" * 65},
        {"age_range": "18-24", "native_language": "English2"},
        {"age_range": "18-24", "native_language": "Eng\nlish"},
    ):
        response = client.post(reverse("demographics", args=[site["demographics"].token]), data)
        assert response.status_code == 400 and b'class="error"' in response.content, data
    assert Participant.objects.get(pk=site["demographics"].pk).demographics == {}


def test_demographic_answers_are_stored_as_given(client: Client, site: dict[str, Any]) -> None:
    client.post(
        reverse("demographics", args=[site["demographics"].token]),
        {
            "age_range": "65+",
            "native_language": "  Brazilian Portuguese ",
            "audio_device": "ignored",
        },
    )
    assert Participant.objects.get(pk=site["demographics"].pk).demographics == {
        "age_range": "65+",
        "native_language": "Brazilian Portuguese",
    }


def test_calibration_needs_the_sound_played(client: Client, site: dict[str, Any]) -> None:
    at_calibration = site["screen"]
    Participant.objects.filter(pk=at_calibration.pk).update(screening={})
    for data in ({}, {"plays": "0"}, {"plays": "-3"}, {"plays": "lots"}):
        response = client.post(reverse("calibration", args=[at_calibration.token]), data)
        _check(response)
        assert response.status_code == 400, data


SCREEN_BREAKAGE = [
    {},
    {"answer": "0"},
    {"answer": "4"},
    {"answer": "one"},
    {"answer": "1", "submission_key": "key-0000001", "events": "[]"},
    {"answer": "1", "submission_key": "key-0000001", "events": "nope"},
    {
        "answer": "1",
        "submission_key": "key-0000001",
        "events": json.dumps([{"media": "original", "event": "ended", "client_ms": 9}]),
    },
]


def test_bad_sound_check_answers_are_refused(client: Client, site: dict[str, Any]) -> None:
    url = reverse("screening", args=[site["screen"].token, 1])
    for data in SCREEN_BREAKAGE:
        response = client.post(url, data)
        _check(response)
        assert response.status_code == 400, data
        assert client.post(url, data, **FETCH).json()["ok"] is False
    assert Participant.objects.get(pk=site["screen"].pk).screening["answers"] == []


def test_unknown_addresses_get_a_friendly_404(client: Client, site: dict[str, Any]) -> None:
    for path in (
        "/s/no-such-study/",
        "/s/no-such-study/withdrawn/",
        "/m/" + "0" * 64 + ".wav",
        "/m/" + "g" * 64 + ".wav",
        "/m/abc.wav",
        "/m/" + "0" * 64 + ".exe",
        "/nowhere/",
        "/p/",
        "/research/preview/no-such-study/",
    ):
        response = client.get(path)
        _check(response)
        assert response.status_code in {302, 404}, path


def test_entry_refuses_other_methods_and_a_draft_study_is_closed(
    client: Client, site: dict[str, Any], bundle: Bundle
) -> None:
    _check(client.put("/s/bad/"))
    assert client.delete("/s/bad/").status_code == 405
    study_create(slug="draft", title="Draft", bundle=bundle, consent_text="C.")
    page = client.get("/s/draft/?PROLIFIC_PID=x")
    assert page.status_code == 200 and b"This study is closed" in page.content
    started = client.post("/s/draft/", {"PROLIFIC_PID": "x"})
    assert started.status_code == 200 and b"This study is closed" in started.content
    assert not Participant.objects.filter(prolific_pid="x").exists()


def test_a_post_without_the_csrf_token_gets_the_reload_page(site: dict[str, Any]) -> None:
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("consent", args=[site["consent"].token]), {"decision": "agree"})
    assert response.status_code == 403 and b"Please reload the page" in response.content


def test_withdrawing_twice_finds_nothing_the_second_time(
    client: Client, site: dict[str, Any]
) -> None:
    url = reverse("withdraw", args=[site["trial"].token])
    assert client.post(url).status_code == 302
    second = client.post(url)
    assert second.status_code == 404 and b"We could not find that page" in second.content


def test_the_preview_is_for_staff_only_and_refuses_unknown_pages(
    client: Client, site: dict[str, Any]
) -> None:
    url = reverse("preview_page", args=["bad", "both", "consent"])
    assert client.get(url).status_code == 302  # to the admin login
    staff = get_user_model().objects.create_user("s", password="p-123456789", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 200
    for args in (["bad", "nope", "consent"], ["bad", "both", "nope"], ["nope", "both", "consent"]):
        _check(response := client.get(reverse("preview_page", args=args)))
        assert response.status_code == 404
    assert (
        client.get(reverse("preview_numbered", args=["bad", "both", "trial", 99])).status_code
        == 404
    )
    assert client.get(reverse("preview_sound", args=["bad", "both", 7])).status_code == 404
    garbage = client.post(
        reverse("preview_numbered", args=["bad", "both", "trial", 1]), {"answer": "x"}
    )
    assert garbage.status_code == 400


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.dictionaries(
        st.sampled_from(["answer", "rating", "confidence", "rt_ms", "submission_key", "events"]),
        st.text(max_size=40),
        max_size=6,
    )
)
def test_no_answer_form_content_makes_the_server_fail(
    client: Client, site: dict[str, Any], fields: dict[str, str]
) -> None:
    for url in (
        reverse("trial", args=[site["trial"].token, 1]),
        reverse("screening", args=[site["screen"].token, 1]),
    ):
        _check(client.post(url, fields))
        _check(client.post(url, fields, **FETCH))
