"""The participant's path through the pages, driven with Django's test client."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studyapp.bots import Bot, DjangoClientTransport
from studyapp.management.commands.simulate_participants import db_oracle, db_screen_oracle
from studyapp.models import AudioEvent, Bundle, Participant, Response, Study, Trial
from studyapp.services.participants import (
    Answer,
    AnswerRejected,
    participant_enroll,
    response_record,
)
from studyapp.services.studies import study_create
from tests.studyapp.participant_helpers import (
    consented,
    fresh_rate_limits,  # noqa: F401  (autouse fixture)
    listen_to,
)

pytestmark = pytest.mark.django_db
FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}
EVERYTHING = {
    "demographics": ["age_range", "hearing_problems", "native_language", "audio_device"],
    "headphone_screen": True,
    "screen_trials": 3,
    "screen_pass_threshold": 2,
    "n_trials": 4,
    "n_practice": 2,
    "n_catch": 2,
    "ask_rating": True,
    "ask_confidence": True,
    "completion_code": "DONE123",
    "screenout_code": "OUT123",
    "noconsent_code": "NO123",
    "completion_url": "https://example.org/done?cc=DONE123",
}


def make_study(
    bundle: Bundle,
    slug: str = "flow",
    conditions: tuple[tuple[str, str, str], ...] = (("both", "both", ""),),
    **fields: Any,
) -> Study:
    return study_create(
        slug=slug,
        title="Flow study",
        bundle=bundle,
        status=Study.Status.LIVE,
        consent_text="Consent.",
        conditions=conditions,
        **fields,
    )


def bot(study: Study, label: str, **options: Any) -> Bot:
    return Bot(
        DjangoClientTransport(),
        study.slug,
        label,
        random.Random(label),
        1.0,
        db_oracle,
        screen_oracle=db_screen_oracle,
        **options,
    )


def in_trials(study: Study, label: str) -> Participant:
    """A consented session past demographics, screen and instructions."""
    participant = consented(study, label)
    participant.instructions_seen_at = timezone.now()
    participant.save()
    return participant


def answer_post(
    participant: Participant, position: int, answer: str, key: str = "key-0000001", **extra: Any
) -> dict[str, str]:
    events = list(listen_to(participant, position))
    return {
        "answer": answer,
        "rt_ms": "812.5",
        "submission_key": key,
        "events": json.dumps(events),
        **extra,
    }


def test_a_bot_passes_every_page_of_a_fully_configured_study(bundle: Bundle) -> None:
    study = make_study(bundle, **EVERYTHING)
    result = bot(study, "full").run()
    assert result.outcome == "completed", result.pages
    participant = Participant.objects.get(participant_label="full")
    assert set(participant.demographics) == set(EVERYTHING["demographics"])
    assert participant.screening_passed is True and participant.screening_score == 3
    assert result.screening_answers == 3
    kinds = sorted(Trial.objects.filter(participant=participant).values_list("kind", flat=True))
    assert kinds == ["catch"] * 2 + ["main"] * 4 + ["practice"] * 2
    assert Response.objects.filter(trial__participant=participant, answer_correct=True).count() == 8
    assert sum("/feedback/" in page for page in result.pages) == 2
    pages = [p.split("/")[3] for p in result.pages if p.startswith("/p/")]
    first = {
        name: pages.index(name)
        for name in ("consent", "about-you", "volume", "sound-check", "instructions", "trial")
    }
    assert sorted(first, key=first.get) == [
        "consent",
        "about-you",
        "volume",
        "sound-check",
        "instructions",
        "trial",
    ]


def test_a_bot_that_guesses_the_sound_check_is_screened_out_with_the_screen_out_code(
    bundle: Bundle,
) -> None:
    study = make_study(bundle, **EVERYTHING)
    result = bot(study, "speakers", screen_accuracy=0.0).run()
    assert result.outcome == "screened_out"
    participant = Participant.objects.get(participant_label="speakers")
    assert (participant.status, participant.screening_passed, participant.screening_score) == (
        "screened_out",
        False,
        0,
    )
    page = Client().get(reverse("screened_out", args=[participant.token]))
    assert b"OUT123" in page.content and b"https://example.org" not in page.content


def test_declining_consent_ends_with_the_no_consent_code(bundle: Bundle, client: Client) -> None:
    study = make_study(bundle, **EVERYTHING)
    result = bot(study, "no", agree=False).run()
    assert result.outcome == "declined"
    participant = Participant.objects.get(participant_label="no")
    assert participant.status == "declined" and not participant.consent_version
    assert b"NO123" in client.get(reverse("declined", args=[participant.token])).content


def test_entry_stores_the_prolific_parameters_and_the_same_id_resumes_the_session(
    bundle: Bundle, client: Client
) -> None:
    study = make_study(bundle)
    query = "?PROLIFIC_PID=5f0c0ffee&STUDY_ID=st1&SESSION_ID=se1&evil=<script>"
    page = client.get(f"/s/{study.slug}/{query}")
    assert page.status_code == 200 and b"evil" not in page.content
    started = client.post(
        f"/s/{study.slug}/", {"PROLIFIC_PID": "5f0c0ffee", "STUDY_ID": "st1", "SESSION_ID": "se1"}
    )
    participant = Participant.objects.get()
    assert (
        participant.prolific_pid,
        participant.prolific_study_id,
        participant.prolific_session_id,
    ) == ("5f0c0ffee", "st1", "se1")
    assert started.url == reverse("resume", args=[participant.token])
    again = Client().get(f"/s/{study.slug}/?PROLIFIC_PID=5f0c0ffee")
    assert again.status_code == 302 and again.url == reverse("resume", args=[participant.token])
    Client().post(f"/s/{study.slug}/", {"PROLIFIC_PID": "5f0c0ffee"})
    assert Participant.objects.count() == 1


def test_resuming_lands_on_the_first_unanswered_trial(bundle: Bundle, client: Client) -> None:
    study = make_study(bundle)
    participant = in_trials(study, "resumer")
    for position in (1, 2):
        client.post(
            reverse("trial", args=[participant.token, position]),
            answer_post(participant, position, "3", key=f"key-00000{position}"),
        )
    assert client.get(f"/s/{study.slug}/?participant=resumer", follow=True).redirect_chain[-1][
        0
    ] == reverse("trial", args=[participant.token, 3])
    # An old tab showing trial 1 is sent on, not allowed to answer it again.
    stale = client.post(
        reverse("trial", args=[participant.token, 1]),
        answer_post(participant, 1, "4", key="key-other"),
        **FETCH,
    )
    assert stale.status_code == 409 and stale.json()["next"] == reverse(
        "trial", args=[participant.token, 3]
    )
    assert Response.objects.get(trial__participant=participant, trial__position=1).answer == "3"


def test_the_consent_version_agreed_to_is_stored(bundle: Bundle, client: Client) -> None:
    study = make_study(bundle, consent_version="2026-03-v4")
    participant, _ = participant_enroll(study=study, recruitment={"participant_label": "c"})
    client.post(reverse("consent", args=[participant.token]), {"decision": "agree"})
    participant.refresh_from_db()
    assert participant.consent_version == "2026-03-v4" and participant.consented_at is not None


def test_a_fetch_submission_is_answered_with_the_next_trial_and_a_repeat_is_stored_once(
    bundle: Bundle, client: Client
) -> None:
    study = make_study(bundle, n_trials=3)
    participant = in_trials(study, "fetcher")
    url = reverse("trial", args=[participant.token, 1])
    data = answer_post(participant, 1, "2")
    first, second = client.post(url, data, **FETCH), client.post(url, data, **FETCH)
    assert first.status_code == second.status_code == 200
    next_url = reverse("trial", args=[participant.token, 2])
    # The reply to a stored answer carries the next trial for the page to swap in ...
    reply = first.json()
    assert reply["ok"] and reply["next"] == next_url
    assert (reply["trial"]["position"], reply["trial"]["answered"], reply["trial"]["total"]) == (
        2,
        1,
        3,
    )
    assert 'data-position="2"' in reply["trial"]["html"]
    assert f'action="{next_url}"' in reply["trial"]["html"]
    # ... which counts as shown from then on (its media preloaded by the trial before).
    assert Trial.objects.get(participant=participant, position=2).presented_at is not None
    # A repeat (a retry whose reply was lost) is sent to the current step by a full load.
    assert second.json() == {"ok": True, "next": next_url}
    assert Response.objects.filter(trial__participant=participant).count() == 1
    assert AudioEvent.objects.filter(trial__participant=participant).count() == 4


def test_practice_trials_show_feedback_with_the_models_decision(
    bundle: Bundle, client: Client
) -> None:
    study = make_study(bundle, n_practice=1)
    participant = in_trials(study, "learner")
    trial = Trial.objects.get(participant=participant, position=1)
    assert trial.kind == "practice"
    wrong = str((int(trial.stimulus.predicted_label) + 1) % 10)
    reply = client.post(
        reverse("trial", args=[participant.token, 1]), answer_post(participant, 1, wrong), **FETCH
    )
    assert reply.json()["next"] == reverse("feedback", args=[participant.token, 1])
    page = client.get(reply.json()["next"]).content.decode()
    assert (
        "Not quite" in page
        and f"decided on <strong>{trial.stimulus.predicted_label}</strong>" in page
    )
    assert "last practice trial" in page
    # Feedback exists for practice trials only.
    main = client.get(reverse("feedback", args=[participant.token, 2]))
    assert main.status_code == 302


def test_answers_cannot_be_changed_unless_the_study_allows_going_back(
    bundle: Bundle, client: Client
) -> None:
    fixed = make_study(bundle, slug="fixed", n_trials=3)
    participant = in_trials(fixed, "fixed")
    client.post(reverse("trial", args=[participant.token, 1]), answer_post(participant, 1, "1"))
    assert client.get(reverse("trial", args=[participant.token, 1])).status_code == 302

    back = make_study(bundle, slug="back", n_trials=3, allow_back=True)
    participant = in_trials(back, "back")
    client.post(reverse("trial", args=[participant.token, 1]), answer_post(participant, 1, "1"))
    page = client.get(reverse("trial", args=[participant.token, 2])).content.decode()
    assert reverse("trial", args=[participant.token, 1]) in page  # the "previous" link
    revisit = client.get(reverse("trial", args=[participant.token, 1]))
    assert revisit.status_code == 200 and b"changing your earlier answer" in revisit.content
    client.post(
        reverse("trial", args=[participant.token, 1]),
        {**answer_post(participant, 1, "7", key="key-revised"), "events": "[]"},
    )
    response = Response.objects.get(trial__participant=participant, trial__position=1)
    assert response.answer == "7" and response.revised_at is not None
    assert Response.objects.filter(trial__participant=participant).count() == 1


def test_a_participant_only_ever_reaches_their_own_trials(bundle: Bundle, client: Client) -> None:
    study = make_study(bundle, n_trials=3)
    alice, bob = in_trials(study, "alice"), in_trials(study, "bob")
    page = client.get(reverse("trial", args=[alice.token, 1])).content.decode()
    alice_trial = Trial.objects.get(participant=alice, position=1)
    assert alice_trial.stimulus.original_audio.sha256 in page
    client.post(reverse("trial", args=[alice.token, 1]), answer_post(alice, 1, "5"))
    assert not Response.objects.filter(trial__participant=bob).exists()
    # Bob's trial positions under Alice's token are Alice's; an unknown token is a friendly 404.
    assert client.get(reverse("trial", args=["x" * 43, 1])).status_code == 404


def test_an_idle_session_expires_and_shows_a_friendly_page(bundle: Bundle, client: Client) -> None:
    study = make_study(bundle, time_limit_minutes=30)
    participant = in_trials(study, "idle")
    Participant.objects.filter(pk=participant.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=31)
    )
    page = client.get(reverse("resume", args=[participant.token]), follow=True)
    assert page.redirect_chain[-1][0] == reverse("expired", args=[participant.token])
    assert b"This session has ended" in page.content
    participant.refresh_from_db()
    assert participant.status == Participant.Status.ABANDONED


def test_the_done_page_and_its_redirect_come_only_after_the_last_answer(
    bundle: Bundle, client: Client
) -> None:
    study = make_study(
        bundle,
        n_trials=2,
        completion_url="https://example.org/done?cc=DONE123",
        completion_code="DONE123",
    )
    participant = in_trials(study, "finisher")
    assert client.get(reverse("done", args=[participant.token])).status_code == 302
    client.post(
        reverse("trial", args=[participant.token, 1]),
        answer_post(participant, 1, "1", key="key-000001"),
    )
    assert client.get(reverse("done", args=[participant.token])).status_code == 302
    last = client.post(
        reverse("trial", args=[participant.token, 2]),
        answer_post(participant, 2, "1", key="key-000002"),
        **FETCH,
    )
    assert last.json()["next"] == reverse("done", args=[participant.token])
    page = client.get(reverse("done", args=[participant.token])).content.decode()
    assert 'data-redirect-url="https://example.org/done?cc=DONE123"' in page and "DONE123" in page
    participant.refresh_from_db()
    assert participant.status == "completed" and participant.completed_at is not None


def test_a_study_with_zero_trials_left_completes_instead_of_looping(
    bundle: Bundle, client: Client
) -> None:
    study = make_study(bundle, n_trials=1)
    participant = in_trials(study, "empty")
    Trial.objects.filter(participant=participant).delete()
    page = client.get(reverse("resume", args=[participant.token]), follow=True)
    assert page.status_code == 200 and page.redirect_chain[-1][0] == reverse(
        "done", args=[participant.token]
    )


def test_every_participant_page_links_to_withdrawal(bundle: Bundle) -> None:
    study = make_study(bundle, **EVERYTHING)
    transport = DjangoClientTransport()
    seen = []
    original_post = transport.post

    def post(path: str, data: dict[str, str]) -> tuple[int, str, str]:
        status, final, html = original_post(path, data)
        seen.append((final, html))
        return status, final, html

    transport.post = post  # type: ignore[method-assign]
    result = Bot(
        transport,
        study.slug,
        "links",
        random.Random(1),
        1.0,
        db_oracle,
        screen_oracle=db_screen_oracle,
    ).run()
    assert result.completed
    assert len({final.split("/")[3] for final, _ in seen}) >= 7  # every kind of page was seen
    for final, html in seen:
        assert "/withdraw/" in html, final


def test_answers_the_audio_rules_forbid_are_refused_with_a_reason(
    bundle: Bundle, client: Client
) -> None:
    study = make_study(bundle, n_trials=2)
    participant = in_trials(study, "rules")
    url = reverse("trial", args=[participant.token, 1])
    only_original = [e for e in listen_to(participant, 1) if e["media"] == "original"]
    reply = client.post(
        url, {**answer_post(participant, 1, "3"), "events": json.dumps(only_original)}, **FETCH
    )
    assert (
        reply.status_code == 400
        and "audible explanation was not heard to the end" in reply.json()["error"]
    )
    page = client.post(url, {**answer_post(participant, 1, "3"), "events": "[]"})
    assert page.status_code == 400 and b"recording was not heard to the end" in page.content
    assert not Response.objects.exists()


def test_rating_and_confidence_are_required_when_the_study_asks_for_them(bundle: Bundle) -> None:
    study = make_study(bundle, ask_rating=True, ask_confidence=True)
    participant = in_trials(study, "asked")
    with pytest.raises(AnswerRejected, match="rating"):
        response_record(
            participant=participant,
            position=1,
            answer=Answer(
                answer="1", confidence=50, submission_key="k" * 10, events=listen_to(participant, 1)
            ),
        )
    response, _ = response_record(
        participant=participant,
        position=1,
        answer=Answer(
            answer="1",
            rating=4,
            confidence=50,
            submission_key="k" * 10,
            events=listen_to(participant, 1),
        ),
    )
    assert (response.rating, response.confidence) == (4, 50)
