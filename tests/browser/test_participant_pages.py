"""Page-level behaviour in a real browser: the synchronised playhead, a 360 px phone,
withdrawal, friendly error pages and the staff preview."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from studyapp.models import AudioEvent, Participant, Response, Trial
from tests.browser import driver
from tests.browser.conftest import screenshot

PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
SAMPLE = """() => {
  const playing = [...document.querySelectorAll('audio')].find(a => !a.paused && !a.ended);
  const line = document.getElementById('playhead');
  return playing ? [playing.dataset.media, playing.currentTime, parseFloat(line.style.left),
                    line.classList.contains('visible')] : null;
}"""


def _expected_left(timeline: dict[str, float], t: float) -> float:
    """Percent from the left of the picture's plot area (the page shows only that area:
    image columns x0..x1 are its edges) at which time ``t`` is drawn."""
    fraction = (min(max(t, timeline["t0_s"]), timeline["t1_s"]) - timeline["t0_s"]) / (
        timeline["t1_s"] - timeline["t0_s"]
    )
    return 100 * fraction


# Each time the line is shown: where it already is, and the moment being heard.
WATCH_SHOWING = """() => {
  const line = document.getElementById('playhead');
  window.shownAt = [];
  new MutationObserver(() => {
    if (!line.classList.contains('visible')) return;
    const playing = [...document.querySelectorAll('audio')].find(a => !a.paused);
    window.shownAt.push([line.style.left, playing ? playing.currentTime : null]);
  }).observe(line, {attributes: true, attributeFilter: ['class']});
}"""


def _first_trial(page: Any, site: Any, slug: str) -> dict[str, float]:
    """Go through to the study's first trial; return its stimulus's timeline."""
    driver.start(page, site, slug, f"pid-{slug}")
    driver.agree(page)
    driver.read_instructions(page)
    page.wait_for_url("**/trial/1/")
    return driver.current_trial(page).stimulus.timeline


def test_the_playhead_follows_the_clip_and_the_audible_explanation(
    site: Any, new_page: Any
) -> None:
    study = driver.make_study(site.bundle, "playhead", "both", n_practice=0, n_catch=0)
    page, _ = new_page()
    timeline = _first_trial(page, site, study.slug)
    # The picture shows exactly the image's plot area, so the line's box is the timeline's.
    view = [timeline[k] for k in ("x0_px", "y0_px")] + [
        timeline["x1_px"] - timeline["x0_px"],
        timeline["y1_px"] - timeline["y0_px"],
    ]
    expect(page.locator("#heatmap svg.plot")).to_have_attribute("viewBox", " ".join(map(str, view)))
    for button, media in (("Play recording", "original"), ("Play explanation", "explanation")):
        page.get_by_role("button", name=button).click()
        samples = []
        for _ in range(6):
            page.wait_for_timeout(110)
            sample = page.evaluate(SAMPLE)
            if sample:
                samples.append(sample)
        if media == "original":
            screenshot(page, "trial-both-playhead", full_page=False)
        assert len(samples) >= 4, samples
        assert all(s[0] == media and s[3] for s in samples)
        lefts = [s[2] for s in samples]
        assert lefts == sorted(lefts) and lefts[-1] > lefts[0]
        # The line marks the moment being heard, to within a couple of animation frames.
        assert all(abs(left - _expected_left(timeline, t)) < 4.0 for _, t, left, _ in samples), (
            samples
        )
        expect(page.locator(f"#status-{media}")).to_contain_text("Heard to the end", timeout=5000)
        expect(page.locator("#playhead")).to_be_hidden()


def test_the_playhead_is_where_the_clip_is_before_it_is_shown(site: Any, new_page: Any) -> None:
    study = driver.make_study(
        site.bundle, "playhead-shown", "visual", n_practice=0, n_catch=0, max_replays=2
    )
    page, _ = new_page()
    timeline = _first_trial(page, site, study.slug)
    page.evaluate(WATCH_SHOWING)
    play = page.locator("#play-original")
    status = page.locator("#status-original")
    play.click()
    expect(status).to_contain_text("Heard to the end", timeout=5000)  # the line was last at the end
    play.click()  # a replay: shown at the start at once, never for a frame where it last was
    expect(status).to_contain_text("Playing")
    expect(status).to_contain_text("Heard to the end", timeout=5000)
    shown = page.evaluate("() => window.shownAt")
    assert len(shown) == 2, shown
    for left, t in shown:
        assert left and abs(float(left.rstrip("%")) - _expected_left(timeline, t)) < 2.0, shown
    assert float(shown[1][0].rstrip("%")) < 10, shown


def test_the_pages_fit_a_360_pixel_phone_and_work_by_touch(site: Any, new_page: Any) -> None:
    study = driver.make_study(
        site.bundle,
        "phone",
        "both",
        ask_rating=True,
        ask_confidence=True,
        headphone_screen=True,
        screen_trials=1,
        screen_pass_threshold=1,
        demographics=["age_range", "audio_device"],
    )
    page, watch = new_page(**PHONE)

    def fits(name: str) -> None:
        screenshot(page, f"phone-{name}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{name} page is {width} px wide"

    driver.start(page, site, study.slug, "pid-phone")
    fits("consent")
    driver.agree(page)
    page.get_by_role("radio", name="25 to 34").tap()
    page.get_by_role("radio", name="Headphones or earphones").tap()
    fits("demographics")
    page.get_by_role("button", name="Continue").tap()
    driver.set_volume(page)
    page.get_by_role("button", name="Play the three noises").tap()
    expect(page.get_by_role("button", name="Noise 1")).to_be_enabled(timeout=driver.ANSWER_OPEN_MS)
    fits("screening")
    target = driver.participant_of(page).screening["targets"][0]
    page.get_by_role("button", name=f"Noise {target}").tap()
    driver.read_instructions(page)
    page.wait_for_url("**/trial/1/")
    trial = driver.current_trial(page)
    driver.listen(page)
    page.locator(f"input[name=answer][value='{driver.right_answer(trial)}']").tap()
    page.locator("input[name=rating][value='6']").tap()
    page.locator("#confidence-slider").fill("40")
    fits("trial")
    page.locator("#submit-answer").tap()
    page.wait_for_url("**/feedback/")
    fits("feedback")
    response = Response.objects.get(trial=trial)
    assert (response.rating, response.confidence, response.answer_correct) == (6, 40, True)
    assert watch.problems == []


def test_a_participant_can_withdraw_and_everything_recorded_is_deleted(
    site: Any, new_page: Any
) -> None:
    study = driver.make_study(
        site.bundle,
        "withdraw",
        "audible",
        n_practice=0,
        n_catch=0,
        demographics=["age_range"],
        headphone_screen=False,
    )
    page, _ = new_page()
    driver.start(page, site, study.slug, "pid-withdraw")
    driver.agree(page)
    page.get_by_role("radio", name="45 to 54").check()
    page.get_by_role("button", name="Continue").click()
    driver.read_instructions(page)
    page.wait_for_url("**/trial/1/")
    driver.listen(page)
    driver.answer(page, driver.right_answer(driver.current_trial(page)))
    driver.submit(page)
    participant = Participant.objects.get(prolific_pid="pid-withdraw")
    trial_url = page.url
    assert Response.objects.filter(trial__participant=participant).count() == 1
    assert AudioEvent.objects.filter(trial__participant=participant).count() == 4

    page.get_by_role("link", name="Withdraw from the study and delete my data").click()
    expect(page.get_by_role("heading", name="Withdraw from the study?")).to_be_visible()
    screenshot(page, "withdraw-confirm")
    page.get_by_role("button", name="Yes, withdraw and delete my data").click()
    expect(page.get_by_role("heading", name="You have withdrawn")).to_be_visible()
    screenshot(page, "withdrawn")
    assert not Participant.objects.filter(study=study).exists()
    assert not Trial.objects.filter(participant_id=participant.pk).exists()
    assert not Response.objects.filter(trial__participant_id=participant.pk).exists()
    assert not AudioEvent.objects.filter(trial__participant_id=participant.pk).exists()

    response = page.goto(trial_url)
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="We could not find that page")).to_be_visible()
    screenshot(page, "not-found")


def test_staff_preview_every_page_of_a_condition_without_creating_data(
    site: Any, new_page: Any
) -> None:
    study = driver.make_study(
        site.bundle,
        "preview",
        "both",
        demographics=["age_range"],
        headphone_screen=True,
        screen_trials=1,
        screen_pass_threshold=1,
        ask_confidence=True,
    )
    get_user_model().objects.create_user("staff", password="preview-pass-123", is_staff=True)
    page, watch = new_page()
    page.goto(f"{site.url}/research/preview/{study.slug}/")
    page.wait_for_url("**/admin/login/**")
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill("preview-pass-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/research/preview/{study.slug}/")
    screenshot(page, "preview-index")
    page.get_by_role("link", name="entry").click()
    expect(page.get_by_text("nothing you do here is saved")).to_be_visible()
    page.get_by_role("button", name="Start").click()
    driver.agree(page)
    page.get_by_role("radio", name="18 to 24").check()
    page.get_by_role("button", name="Continue").click()
    driver.set_volume(page)
    page.get_by_role("button", name="Play the three noises").click()
    page.get_by_role("button", name="Noise 2").click()
    driver.read_instructions(page)
    page.wait_for_url("**/trial/1/")
    screenshot(page, "preview-trial")
    page.get_by_role("button", name="Play recording").click()
    expect(page.locator("#status-original")).to_contain_text("Heard to the end", timeout=5000)
    page.get_by_role("button", name="Play explanation").click()
    page.locator("input[name=answer][value='3']").check(timeout=5000)
    page.locator("#confidence-slider").fill("55")
    page.locator("#submit-answer").click()
    page.wait_for_url("**/feedback/1/**")
    expect(page.get_by_text("You answered 3")).to_be_visible()
    assert Participant.objects.count() == Trial.objects.count() == Response.objects.count() == 0
    assert AudioEvent.objects.count() == 0
    assert watch.problems == []
