"""Withdrawal deletes a session's data; the staff preview shows every page and saves nothing."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from studyapp.bots import Bot, DjangoClientTransport
from studyapp.management.commands.simulate_participants import db_oracle, db_screen_oracle
from studyapp.models import AudioEvent, Bundle, Participant, Response, Study, Trial
from studyapp.services.participants import participant_withdraw
from studyapp.services.studies import study_create
from tests.studyapp.participant_helpers import fresh_rate_limits  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.django_db
COUNTED = (Participant, Trial, Response, AudioEvent)


def counts() -> list[int]:
    return [model.objects.count() for model in COUNTED]


def rich_study(bundle: Bundle, **fields: Any) -> Study:
    design = {
        "status": Study.Status.LIVE,
        "consent_text": "Consent.",
        "n_trials": 3,
        "n_practice": 1,
        "n_catch": 1,
        "demographics": ["age_range", "native_language"],
        "headphone_screen": True,
        "screen_trials": 2,
        "screen_pass_threshold": 2,
        "ask_rating": True,
        "ask_confidence": True,
        **fields,
    }
    return study_create(
        slug="rich",
        title="Rich",
        bundle=bundle,
        conditions=[
            ("visual", "visual", ""),
            ("audible", "audible", ""),
            ("both", "both", ""),
            ("none", "none", ""),
        ],
        **design,
    )


def test_withdrawing_deletes_the_session_and_everything_recorded_in_it(
    bundle: Bundle, client: Client
) -> None:
    study = rich_study(bundle)
    for label in ("stays", "leaves"):
        assert (
            Bot(
                DjangoClientTransport(),
                study.slug,
                label,
                random.Random(label),
                1.0,
                db_oracle,
                screen_oracle=db_screen_oracle,
            )
            .run()
            .completed
        )
    leaving = Participant.objects.get(participant_label="leaves")
    before = counts()
    page = client.get(reverse("withdraw", args=[leaving.token]))
    assert (
        page.status_code == 200
        and b"everything recorded in this session is deleted" in page.content
    )
    assert counts() == before  # asking is not withdrawing
    done = client.post(reverse("withdraw", args=[leaving.token]), follow=True)
    assert done.redirect_chain[-1][0] == reverse("withdrawn", args=[study.slug])
    assert b"Your data from this study has been deleted" in done.content
    assert not Participant.objects.filter(pk=leaving.pk).exists()
    assert not Trial.objects.filter(participant_id=leaving.pk).exists()
    assert not AudioEvent.objects.filter(trial__participant_id=leaving.pk).exists()
    staying = Participant.objects.get(participant_label="stays")
    assert (
        Response.objects.filter(trial__participant=staying).count()
        == Trial.objects.filter(participant=staying).count()
    )


def test_the_withdraw_service_reports_what_it_deleted(bundle: Bundle) -> None:
    study = rich_study(bundle, headphone_screen=False, demographics=[])
    Bot(DjangoClientTransport(), study.slug, "p", random.Random(1), 1.0, db_oracle).run()
    participant = Participant.objects.get()
    n_trials = Trial.objects.filter(participant=participant).count()
    n_events = AudioEvent.objects.filter(trial__participant=participant).count()
    deleted = participant_withdraw(participant=participant)
    assert (
        deleted == 1 + 2 * n_trials + n_events
    )  # the session, its trials, responses and audio events
    assert counts() == [0, 0, 0, 0]


@pytest.fixture
def staff_client(client: Client) -> Client:
    client.force_login(
        get_user_model().objects.create_user("staff", password="x-123456789", is_staff=True)
    )
    return client


def test_the_preview_shows_every_page_of_every_condition_and_saves_nothing(
    bundle: Bundle, staff_client: Client
) -> None:
    study = rich_study(bundle)
    index = staff_client.get(reverse("preview_index", args=[study.slug])).content.decode()
    trial_table = reverse("preview_trials", args=[study.slug])
    links = [
        link
        for link in re.findall(r'href="(/research/preview/rich/[^"]+)"', index)
        if link != trial_table  # a staff page about the plan, not a participant's page
    ]
    assert f'href="{trial_table}"' in index
    assert len({link.split("/")[4] for link in links}) == 4  # every condition
    for link in links:
        page = staff_client.get(link)
        assert page.status_code == 200, link
        assert b"nothing you do here is saved" in page.content, link
    trial_page = staff_client.get(
        reverse("preview_numbered", args=[study.slug, "both", "trial", 2])
    ).content.decode()
    assert 'id="play-explanation"' in trial_page and "heatmap" in trial_page
    none_page = staff_client.get(
        reverse("preview_numbered", args=[study.slug, "none", "trial", 2])
    ).content.decode()
    assert 'id="play-explanation"' not in none_page and "sound wave" in none_page
    assert (
        staff_client.get(reverse("preview_sound", args=[study.slug, "both", 0]))["Content-Type"]
        == "audio/wav"
    )
    assert (
        staff_client.get(reverse("preview_sound", args=[study.slug, "both", 2]))["Content-Type"]
        == "audio/wav"
    )
    assert counts() == [0, 0, 0, 0]


def test_posting_through_the_preview_walks_the_pages_in_order_without_saving(
    bundle: Bundle, staff_client: Client
) -> None:
    study = rich_study(bundle)
    url = reverse("preview_page", args=[study.slug, "audible", "consent"])
    visited = []
    for _ in range(30):
        page = (
            url.rstrip("/").split("/")[-1]
            if not re.search(r"/\d+/", url)
            else "/".join(url.split("/")[-3:-1])
        )
        visited.append(page)
        if url.endswith("/done/"):
            break
        data: dict[str, str] = {
            "decision": "agree",
            "plays": "1",
            "answer": "1",
            "rating": "3",
            "confidence": "40",
            "submission_key": "key-preview",
            "events": json.dumps([]),
        }
        reply = staff_client.post(url, data, HTTP_X_REQUESTED_WITH="fetch")
        assert reply.status_code == 200, (url, reply.content[:200])
        url = reply.json()["next"]
    assert visited[:5] == ["consent", "demographics", "calibration", "screening/1", "screening/2"]
    assert "instructions" in visited and visited[-1] == "done" and "feedback/1" in visited
    assert counts() == [0, 0, 0, 0]


def test_declining_in_the_preview_shows_the_declined_page(
    bundle: Bundle, staff_client: Client
) -> None:
    study = rich_study(bundle, noconsent_code="NOPE")
    reply = staff_client.post(
        reverse("preview_page", args=[study.slug, "visual", "consent"]),
        {"decision": "decline"},
        follow=True,
    )
    assert reply.redirect_chain[-1][0].endswith("/declined/") and b"NOPE" in reply.content


def test_simulated_participants_take_every_new_page_with_a_chosen_screen_pass_rate(
    bundle: Bundle, capsys: Any
) -> None:
    study = rich_study(bundle)
    call_command("simulate_participants", study=study.slug, n=4, accuracy=1.0, screen_accuracy=1.0)
    call_command("simulate_participants", study=study.slug, n=3, screen_accuracy=0.0, seed=1)
    call_command("simulate_participants", study=study.slug, n=2, decline_share=1.0, seed=2)
    out = capsys.readouterr().out
    assert "4 of 4 simulated participants completed, 20 answers given" in out
    assert "0 of 3 simulated participants completed, 0 answers given (screened_out 3)" in out
    assert "(declined 2)" in out
    statuses = sorted(Participant.objects.values_list("status", flat=True))
    assert statuses == ["completed"] * 4 + ["declined"] * 2 + ["screened_out"] * 3
    completed = Participant.objects.filter(status="completed")
    assert all(p.demographics and p.screening_passed for p in completed)
    assert Response.objects.filter(answer_correct=True).count() == 20


def test_the_simulation_command_names_a_bad_probability(bundle: Bundle) -> None:
    from django.core.management.base import CommandError

    study = rich_study(bundle)
    with pytest.raises(CommandError, match="--screen-accuracy must be between 0 and 1, got 1.5"):
        call_command("simulate_participants", study=study.slug, n=1, screen_accuracy=1.5)


def test_too_many_posts_from_one_client_get_a_friendly_429(bundle: Bundle, settings: Any) -> None:
    settings.RATE_LIMIT_ENTRY_PER_MIN = 2
    study = rich_study(bundle)
    client = Client(REMOTE_ADDR="203.0.113.9")
    replies = [client.post(f"/s/{study.slug}/", {"participant": f"r{i}"}) for i in range(3)]
    assert [r.status_code for r in replies] == [302, 302, 429]
    assert b"Too many requests" in replies[2].content
    assert (
        Client(REMOTE_ADDR="203.0.113.10")
        .post(f"/s/{study.slug}/", {"participant": "other"})
        .status_code
        == 302
    )
    assert Participant.objects.count() == 3
