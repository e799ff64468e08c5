"""Rate limits stop a script on an entry link or a session, and never a person taking part.

Both sides of each limit are tested with the deployed limits (60 new sessions per
minute per address, 120 answers per minute per session): the fastest participant, a
whole lab behind one address, and the scripts that the limits are for. Behind a
reverse proxy the address comes from X-Forwarded-For; without one that header is
ignored. If the shared cache (Redis) fails, counting goes on in process memory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from studyapp.models import Bundle, Participant, Response, Trial
from studyapp.services.studies import study_create
from studyapp.views import limits
from tests.processes import free_port
from tests.security.conftest import every_page_study, walk
from tests.studyapp.participant_helpers import at_first_trial, shown_long_enough_ago

pytestmark = pytest.mark.django_db
FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


@pytest.fixture(autouse=True)
def deployed_limits(settings: Any) -> Iterator[None]:
    settings.RATE_LIMIT_ENTRY_PER_MIN, settings.RATE_LIMIT_ANSWER_PER_MIN, settings.PROXY_COUNT = (
        60,
        120,
        0,
    )
    # Counters are per calendar minute: start well inside one, so a test's burst is counted whole
    # (the slowest, a dozen password checks, took 8 s on a loaded machine).
    left = 60 - time.time() % 60
    if left < 20:
        time.sleep(left + 0.2)
    yield
    limits._shared_down_until = 0.0
    limits._local.clear()


def _answer(trial: Trial, key: str) -> dict[str, str]:
    item = trial.stimulus.original_audio
    events = [
        {"media": "original", "event": "play", "client_ms": 10.0, "media_time_s": 0.0},
        {
            "media": "original",
            "event": "ended",
            "client_ms": 10.0 + 1000 * (item.duration_s or 1) + 5,
            "media_time_s": item.duration_s,
        },
    ]
    shown_long_enough_ago(trial, events)
    return {
        "answer": trial.stimulus.predicted_label,
        "rt_ms": "800",
        "submission_key": key,
        "events": json.dumps(events),
    }


def test_the_fastest_participant_sending_every_answer_twice_is_never_limited(
    bundle: Bundle,
) -> None:
    study = study_create(
        slug="fast",
        title="Fast",
        bundle=bundle,
        status="live",
        consent_text="C.",
        n_trials=20,
        conditions=[("visual", "visual", "")],
        audio_must_finish=False,
    )
    person = at_first_trial(study, "quick")
    client = Client(REMOTE_ADDR="198.51.100.7")
    for trial in (
        Trial.objects.filter(participant=person)
        .select_related("stimulus__original_audio")
        .order_by("position")
    ):
        url = reverse("trial", args=[person.token, trial.position])
        for _ in range(
            2
        ):  # a double click, or a reply lost on the way: the page sends the same answer again
            reply = client.post(url, _answer(trial, f"key-{trial.position:04d}"), **FETCH)
            assert reply.status_code == 200, reply.content
    assert Response.objects.filter(trial__participant=person).count() == 20
    assert Participant.objects.get(pk=person.pk).status == "completed"


def test_a_lab_of_thirty_participants_behind_one_address_is_never_limited(bundle: Bundle) -> None:
    study = every_page_study(bundle)
    assert all(
        walk(study, f"lab-{i}") for i in range(30)
    )  # every one from 127.0.0.1, within a minute
    assert Participant.objects.filter(status="completed").count() == 30


def test_a_script_starting_sessions_from_one_address_is_stopped_at_the_limit(
    bundle: Bundle,
) -> None:
    study = every_page_study(bundle)
    client = Client(REMOTE_ADDR="203.0.113.50")
    replies = [
        client.post(reverse("entry", args=[study.slug]), {"participant": f"bot{i}"})
        for i in range(65)
    ]
    assert [r.status_code for r in replies].count(302) == 60
    assert all(r.status_code == 429 and int(r["Retry-After"]) <= 60 for r in replies[60:])
    assert b"Too many requests" in replies[-1].content
    assert Participant.objects.count() == 60
    # Someone else, elsewhere, is not affected.
    assert (
        Client(REMOTE_ADDR="203.0.113.51")
        .post(reverse("entry", args=[study.slug]), {"participant": "human"})
        .status_code
        == 302
    )


def test_a_script_hammering_one_session_is_stopped_at_the_limit(bundle: Bundle) -> None:
    study = study_create(
        slug="hammer",
        title="Hammer",
        bundle=bundle,
        status="live",
        consent_text="C.",
        n_trials=5,
        conditions=[("visual", "visual", "")],
    )
    target, bystander = at_first_trial(study, "target"), at_first_trial(study, "bystander")
    client = Client(REMOTE_ADDR="203.0.113.60")
    url = reverse("trial", args=[target.token, 3])
    codes = [
        client.post(url, {"answer": "1", "submission_key": f"key-{i:05d}"}, **FETCH).status_code
        for i in range(125)
    ]
    assert set(codes[:120]) == {409} and set(codes[120:]) == {
        429
    }  # out of order, then refused unread
    assert client.post(url, {}, **FETCH).json() == {
        "ok": False,
        "error": "Too many requests in a short time. Please wait a minute and try again.",
    }
    first = Trial.objects.select_related("stimulus__original_audio").get(
        participant=bystander, position=1
    )
    same_address = client.post(
        reverse("trial", args=[bystander.token, 1]), _answer(first, "key-bystander"), **FETCH
    )
    assert same_address.status_code == 200  # the limit is the session's, not the address's


def test_behind_a_proxy_each_participant_is_counted_by_their_own_address(
    bundle: Bundle, settings: Any
) -> None:
    settings.PROXY_COUNT, settings.RATE_LIMIT_ENTRY_PER_MIN = 1, 3
    study = every_page_study(bundle)
    proxy = "10.0.0.2"  # every request arrives from the proxy

    def arrive(forwarded: str, label: str) -> int:
        return (
            Client(REMOTE_ADDR=proxy)
            .post(
                reverse("entry", args=[study.slug]),
                {"participant": label},
                HTTP_X_FORWARDED_FOR=forwarded,
            )
            .status_code
        )

    assert [arrive("192.0.2.1", f"a{i}") for i in range(4)] == [302, 302, 302, 429]
    assert arrive("192.0.2.2", "b") == 302
    # A forged first entry changes nothing: the proxy appends the address it really saw.
    assert arrive("192.0.2.99, 192.0.2.1", "forged") == 429


def test_without_a_proxy_a_forwarded_for_header_is_ignored(bundle: Bundle, settings: Any) -> None:
    settings.RATE_LIMIT_ENTRY_PER_MIN = 2
    study = every_page_study(bundle)
    client = Client(REMOTE_ADDR="203.0.113.70")
    codes = [
        client.post(
            reverse("entry", args=[study.slug]),
            {"participant": f"s{i}"},
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        ).status_code
        for i in range(3)
    ]
    assert codes == [302, 302, 429]


def test_with_the_shared_cache_down_limits_count_in_memory_and_participants_go_on(
    bundle: Bundle, settings: Any
) -> None:
    settings.RATE_LIMIT_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens
    settings.RATE_LIMIT_ENTRY_PER_MIN = 3
    study = every_page_study(bundle)
    assert walk(study, "during-the-outage")  # every page, every answer, with nowhere to count
    client = Client(REMOTE_ADDR="203.0.113.80")
    codes = [
        client.post(reverse("entry", args=[study.slug]), {"participant": f"o{i}"}).status_code
        for i in range(4)
    ]
    assert codes == [302, 302, 302, 429]


def test_password_guessing_at_the_admin_sign_in_is_stopped_and_a_researcher_still_signs_in(
    db: None, settings: Any
) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(
        "researcher", password="the-right-password-1", is_staff=True
    )
    guesser = Client(REMOTE_ADDR="203.0.113.90")
    codes = [
        guesser.post(
            "/admin/login/", {"username": "researcher", "password": f"guess-{i}"}
        ).status_code
        for i in range(12)
    ]
    assert codes == [200] * 10 + [
        429,
        429,
    ]  # (200: the form again, with "please enter a correct password")
    right = guesser.post(
        "/admin/login/", {"username": "researcher", "password": "the-right-password-1"}
    )
    assert right.status_code == 429  # not even the right password, from this address, this minute
    researcher = Client(REMOTE_ADDR="198.51.100.20")
    signed_in = researcher.post(
        "/admin/login/",
        {"username": "researcher", "password": "the-right-password-1", "next": "/admin/"},
    )
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"


def test_in_redis_each_counter_counts_atomically_and_expires_after_its_minute(
    require_redis: str, settings: Any
) -> None:
    import redis

    settings.RATE_LIMIT_REDIS_URL = require_redis
    server = redis.Redis.from_url(require_redis)
    server.delete("rl:test:counter")
    counts = [limits._hit("rl:test:counter") for _ in range(5)]
    assert counts == [1, 2, 3, 4, 5]
    ttl = server.ttl("rl:test:counter")
    assert 0 < ttl <= limits.COUNTER_TTL_S  # the first count set the expiry; later ones kept it
    assert not limits.over_limit("answer", "session-a", 5) and limits._shared_down_until == 0.0
