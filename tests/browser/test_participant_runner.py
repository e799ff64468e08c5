"""The trial runner in a real browser: trials swapped in place with their media preloaded,
and the page's rough edges (reload, back, two tabs, phone size, wording). The offline
moment is in test_participant_robustness.py (the answer sent again, the next trial swapped in)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from studyapp.models import AudioEvent, Participant, Response, Study
from tests.browser import driver
from tests.browser.conftest import screenshot

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


def _study(site: Any, slug: str, modality: str = "visual", **fields: Any) -> Study:
    design = {"n_trials": 4, "n_practice": 0, "n_catch": 0, "ask_rating": True, **fields}
    return driver.make_study(site.bundle, slug, modality, **design)


def _begin(page: Page, site: Any, study: Study, pid: str) -> None:
    driver.start(page, site, study.slug, pid)
    driver.agree(page)
    driver.read_instructions(page)
    page.wait_for_url("**/trial/1/")


def _answer(page: Page, *, rating: int | None = 4) -> None:
    trial = driver.current_trial(page)
    driver.listen(page)
    driver.answer(page, driver.right_answer(trial), rating=rating)
    driver.submit(page)


def _ready_to_play(page: Page) -> bool:
    """Whether every clip of the swapped-in trial can play through within 1 s (from the cache)."""
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#trial audio')).every(a => a.readyState >= 4)",
        timeout=1000,
    )
    return True


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_whole_study_runs_in_one_page_with_the_next_trial_preloaded(
    site: Any, new_page: Any, size: str
) -> None:
    study = _study(site, f"runner-{size}")
    page, watch = new_page(**(PHONE if size == "phone" else {}))
    _begin(page, site, study, f"pid-runner-{size}")
    page.evaluate("() => { window.sameDocument = true; }")  # gone after any full page load
    preload = page.locator("#trial").get_attribute("data-preload").split()
    assert len(preload) == 2  # the next trial's recording and picture
    for _ in range(100):  # requested while trial 1 is still on the screen
        if all(f"{site.url}{url}" in watch.requests for url in preload):
            break
        page.wait_for_timeout(100)
    assert all(f"{site.url}{url}" in watch.requests for url in preload), preload
    shown = []
    for position in range(1, 5):
        expect(page.locator("#trial")).to_have_attribute("data-position", str(position))
        shown.append(page.evaluate("() => window.sameDocument === true"))
        if position > 1:
            # Swapped in with its media preloaded into the cache: ready to play within 1 s.
            assert _ready_to_play(page)
            expect(page.locator("#progress-text")).to_have_text(f"{position - 1} of 4 answered")
            assert page.evaluate("() => document.activeElement.id") == "play-original"
        if size == "phone" and position == 2:
            rating = page.locator("#rating-group .choice")
            rating.first.scroll_into_view_if_needed()
            tops = {round(box["y"]) for box in (c.bounding_box() for c in rating.all())}
            assert len(tops) == 1, f"the 1-7 scale wraps onto {len(tops)} rows"
            screenshot(page, "runner-phone-trial")
        _answer(page)
    expect(page.get_by_text("Your completion code is")).to_be_visible()
    assert shown == [True, True, True, True]  # trials 2-4 came without a page load
    participant = Participant.objects.get(prolific_pid=f"pid-runner-{size}")
    responses = Response.objects.filter(trial__participant=participant).order_by("trial__position")
    assert [r.answer_correct for r in responses] == [True] * 4
    assert all(r.focus_losses == 0 and r.hidden_count == 0 for r in responses)
    assert all(r.server_rt_ms >= 650 for r in responses)  # never sooner than the audio plays
    assert watch.problems == []


def test_reload_back_button_and_a_second_tab_resume_at_the_right_trial(
    site: Any, new_page: Any
) -> None:
    study = _study(site, "runner-resume")
    page, watch = new_page()
    _begin(page, site, study, "pid-resume")
    _answer(page)  # trial 2 is now swapped in
    driver.listen(page)
    page.reload()  # heard to the end before the reload: still heard, answering still open
    expect(page.locator("#trial")).to_have_attribute("data-position", "2")
    expect(page.locator("#status-original")).to_contain_text("Heard to the end")
    expect(page.locator("input[name=answer]").first).to_be_enabled()
    page.go_back()  # the page before the runner (instructions) sends the participant back
    page.wait_for_url("**/trial/2/")
    expect(page.locator("#trial")).to_have_attribute("data-position", "2")
    other = page.context.new_page()  # a second tab, on the bare study link
    other.goto(f"{site.url}/s/{study.slug}/")
    other.wait_for_url("**/trial/2/")
    _answer(page)  # answered in the first tab ...
    driver.listen(other)
    driver.answer(other, "0", rating=1)
    other.locator("#submit-answer").click()  # ... so the second tab's page is out of date
    other.wait_for_url("**/trial/3/")
    expect(other.locator("#trial")).to_have_attribute("data-position", "3")
    participant = Participant.objects.get(prolific_pid="pid-resume")
    assert Response.objects.filter(trial__participant=participant).count() == 2
    second = Response.objects.get(trial__participant=participant, trial__position=2)
    assert second.answer == driver.right_answer(second.trial)  # the first tab's answer stands
    assert watch.problems == []


def test_the_pages_say_only_what_the_design_has(site: Any, new_page: Any) -> None:
    study = _study(site, "runner-none", modality="none", share_incorrect=0.0, n_trials=1)
    page, _ = new_page()
    driver.start(page, site, study.slug, "pid-none")
    driver.agree(page)
    instructions = page.locator("main").inner_text()
    assert "attention check" not in instructions and "helpful" not in instructions
    driver.read_instructions(page)
    page.wait_for_url("**/trial/1/")
    assert page.locator("#rating-group").count() == 0  # nothing to rate without an explanation
    _answer(page, rating=None)
    debrief = page.locator(".debrief").inner_text()
    assert "wrong on purpose" not in debrief and "(or none)" not in debrief


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_play_status_never_moves_the_page(site: Any, new_page: Any, size: str) -> None:
    # "both": two players, and the longest button ("Play explanation again") beside its status.
    study = _study(site, f"runner-status-{size}", modality="both", n_trials=1)
    page, _ = new_page(**(PHONE if size == "phone" else {}))
    _begin(page, site, study, f"pid-status-{size}")
    form_top = page.evaluate("() => document.getElementById('answer-form').offsetTop")
    driver.listen(page)
    for media in ("original", "explanation"):
        expect(page.locator(f"#status-{media}")).to_contain_text("Heard to the end. 1 replay left")
    assert page.evaluate("() => document.getElementById('answer-form').offsetTop") == form_top


def test_the_pages_say_what_a_design_with_attention_checks_wrong_decisions_and_no_explanation_has(
    site: Any, new_page: Any
) -> None:
    conditions = [("visual", "visual", ""), ("none", "none", "")]
    study = driver.make_study(
        site.bundle, "runner-all", "visual", n_trials=2, n_practice=0, conditions=conditions
    )
    page, _ = new_page()
    driver.start(page, site, study.slug, "pid-all")
    driver.agree(page)
    assert "attention checks" in page.locator("main").inner_text()
    driver.read_instructions(page)
    driver.do_trials(page)
    debrief = page.locator(".debrief").inner_text()
    assert "wrong on purpose" in debrief and "(or none)" in debrief


def test_after_the_sound_check_s_noise_a_stray_enter_answers_nothing(
    site: Any, new_page: Any
) -> None:
    study = _study(
        site, "runner-screen", headphone_screen=True, screen_trials=1, screen_pass_threshold=1
    )
    page, _ = new_page()
    driver.start(page, site, study.slug, "pid-screen")
    driver.agree(page)
    driver.set_volume(page)
    page.get_by_role("button", name="Play the three noises").click()
    expect(page.get_by_role("button", name="Noise 1")).to_be_enabled(timeout=driver.ANSWER_OPEN_MS)
    expect(page.locator("#status-screening")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    assert "/sound-check/1/" in page.url
    assert not Participant.objects.get(prolific_pid="pid-screen").screening.get("answers")


def test_a_reload_while_the_clip_plays_keeps_the_play_it_used(site: Any, new_page: Any) -> None:
    study = _study(site, "runner-midplay", n_trials=1, ask_rating=False)
    page, watch = new_page()
    _begin(page, site, study, "pid-midplay")
    page.get_by_role("button", name="Play recording").click()
    expect(page.locator("#status-original")).to_have_text("Playing")
    page.reload()  # in the middle of the clip
    status = page.locator("#status-original")
    expect(status).to_have_text("1 replay left")  # the interrupted play counts, as the rules say
    expect(page.locator("input[name=answer]").first).to_be_disabled()  # not heard to the end
    expect(page.get_by_role("button", name="Play recording again")).to_be_enabled()
    trial = driver.current_trial(page)
    page.get_by_role("button", name="Play recording again").click()
    expect(page.locator("input[name=answer]").first).to_be_enabled(timeout=driver.ANSWER_OPEN_MS)
    expect(status).to_have_text("Heard to the end. No replays left")
    driver.answer(page, driver.right_answer(trial))
    page.locator("#submit-answer").click()
    expect(page.get_by_text("Your completion code is")).to_be_visible()
    events = list(
        AudioEvent.objects.filter(trial=trial).order_by("client_ms").values_list("event", flat=True)
    )
    assert events[0] == "play" and events[-2:] == ["replay", "ended"], events
    assert Response.objects.get(trial=trial).plays_original == 2
    assert watch.problems == []
