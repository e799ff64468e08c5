"""Complete participant runs in a real browser, checked against the database afterwards.

Each run plays the study's real WAV files in Chromium (audio output muted), so the
``play`` and ``ended`` events in the database come from the browser's media clock.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from studyapp.models import AudioEvent, Participant, Response, Trial
from tests.browser import driver
from tests.browser.conftest import screenshot

ALL_QUESTIONS = ["age_range", "hearing_problems", "native_language", "audio_device"]


def assert_real_playback(participant: Participant, media: str) -> None:
    """Every answered trial logged a play and an ended about one clip-length apart."""
    for trial in Trial.objects.filter(participant=participant).select_related(
        "stimulus__original_audio"
    ):
        events = list(AudioEvent.objects.filter(trial=trial, media=media).order_by("client_ms"))
        names = [e.event for e in events]
        assert names[:1] == ["play"] and "ended" in names, (trial.position, names)
        play = events[0].client_ms
        ended = next(e.client_ms for e in events if e.event == "ended")
        duration_ms = 1000 * trial.stimulus.original_audio.duration_s
        assert 0.85 * duration_ms <= ended - play <= duration_ms + 1500, (
            trial.position,
            ended - play,
        )


def test_a_participant_completes_the_visual_condition_with_every_page(
    site: Any, new_page: Any
) -> None:
    study = driver.make_study(
        site.bundle,
        "visual-run",
        "visual",
        demographics=ALL_QUESTIONS,
        headphone_screen=True,
        screen_trials=2,
        screen_pass_threshold=2,
        ask_rating=True,
        ask_confidence=True,
    )
    page, watch = new_page()
    driver.start(page, site, study.slug, "pid-visual", shot="entry")
    driver.agree(page, shot="consent")
    driver.about_you(page, shot="demographics")
    driver.set_volume(page, shot="calibration")
    driver.sound_checks(page, correct=True, shot="screening")
    driver.read_instructions(page, shot="instructions")
    kinds = driver.do_trials(
        page,
        shots={
            "practice": "trial-practice-visual",
            "feedback": "feedback-practice",
            "catch": "trial-catch",
            "main": "trial-visual",
        },
        rating=5,
        confidence=70,
    )
    expect(page.locator("#completion-code")).to_have_text("C0MPL3TE")
    screenshot(page, "done")

    participant = Participant.objects.get(prolific_pid="pid-visual")
    assert participant.status == Participant.Status.COMPLETED
    assert (participant.prolific_study_id, participant.prolific_session_id) == (
        "study-1",
        "session-pid-visual",
    )
    assert participant.consent_version == study.consent_version
    assert participant.demographics == {
        "age_range": "25-34",
        "hearing_problems": "no",
        "native_language": "English",
        "audio_device": "headphones",
    }
    assert participant.screening_passed is True and participant.screening_score == 2
    assert sorted(kinds) == ["catch", "main", "main", "practice"]
    responses = list(Response.objects.filter(trial__participant=participant))
    assert len(responses) == 4 and all(r.answer_correct for r in responses)
    assert all(
        r.rating == 5 and r.confidence == 70 and r.rt_ms > 0 and r.server_rt_ms > 0
        for r in responses
    )
    assert all(r.plays_original == 1 and r.plays_explanation == 0 for r in responses)
    assert_real_playback(participant, "original")
    assert watch.problems == [] and watch.foreign_requests() == []


@pytest.mark.parametrize("modality", ["audible", "none"])
def test_a_participant_completes_the_condition(site: Any, new_page: Any, modality: str) -> None:
    study = driver.make_study(
        site.bundle,
        f"{modality}-run",
        modality,
        n_trials=1,
        task="verification" if modality == "none" else "forward",
    )
    page, watch = new_page()
    driver.start(page, site, study.slug, f"pid-{modality}")
    driver.agree(page)
    driver.read_instructions(page)
    driver.do_trials(page, shots={"main": f"trial-{modality}"})
    expect(page.locator("#completion-code")).to_have_text("C0MPL3TE")

    participant = Participant.objects.get(prolific_pid=f"pid-{modality}")
    responses = list(Response.objects.filter(trial__participant=participant))
    assert participant.status == Participant.Status.COMPLETED and len(responses) == 3
    assert all(r.answer_correct for r in responses)
    assert all(r.plays_explanation == (1 if modality == "audible" else 0) for r in responses)
    assert_real_playback(participant, "original")
    if modality == "audible":
        assert_real_playback(participant, "explanation")
    assert watch.problems == [] and watch.foreign_requests() == []


def _tab_to(page: Page, selector: str) -> None:
    for _ in range(15):
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"could not reach {selector} with the Tab key")


def test_a_participant_completes_the_both_condition_with_the_keyboard_only(
    site: Any, new_page: Any
) -> None:
    study = driver.make_study(site.bundle, "both-run", "both", n_trials=1, ask_rating=True)
    page, watch = new_page()
    page.goto(f"{site.url}/s/{study.slug}/?PROLIFIC_PID=pid-both")
    # autofocus lands at the browser's next rendering opportunity, which on a busy
    # machine can come after the load event: wait for it as a person would see it.
    expect(page.locator("button.primary")).to_be_focused()
    page.keyboard.press("Enter")  # Start has focus
    page.wait_for_url("**/consent/")
    _tab_to(page, "button[value=agree]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/instructions/")
    expect(page.locator("form button[type=submit]")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**/trial/1/")
    while "/trial/" in page.url:
        if page.url.endswith("/feedback/"):
            expect(page.locator("button.primary")).to_be_focused()
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: not url.endswith("/feedback/"))
            continue
        trial = driver.current_trial(page)
        expect(page.locator("#play-original")).to_be_focused()
        page.keyboard.press("Enter")  # the play button has focus
        expect(page.locator("#play-explanation")).to_be_focused(timeout=driver.ANSWER_OPEN_MS)
        page.keyboard.press("Enter")
        first = page.locator("input[name=answer]").first
        expect(first).to_be_focused(timeout=driver.ANSWER_OPEN_MS)
        if trial.kind == Trial.Kind.MAIN:
            screenshot(page, "trial-both")
        steps = int(driver.right_answer(trial))
        page.keyboard.press("Space" if steps == 0 else "ArrowRight")
        for _ in range(max(steps - 1, 0)):
            page.keyboard.press("ArrowRight")
        page.keyboard.press("Tab")  # into the rating scale
        page.keyboard.press("ArrowRight")  # rating 2 (arrow keys select within a radio group)
        _tab_to(page, "#submit-answer")
        old = page.url
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url, old=old: url != old)
    expect(page.locator("#completion-code")).to_have_text("C0MPL3TE")
    participant = Participant.objects.get(prolific_pid="pid-both")
    responses = list(Response.objects.filter(trial__participant=participant))
    assert len(responses) == 3 and all(r.answer_correct and r.rating == 2 for r in responses)
    assert all(r.plays_original == 1 and r.plays_explanation == 1 for r in responses)
    assert_real_playback(participant, "explanation")
    assert watch.problems == []
