"""A trial on a 390 x 844 phone: every picture's axis text at least 11 CSS px, every scale
on one row, and Submit on the screen without scrolling (in a bar along the bottom that,
scrolled to the end, covers nothing), for every kind of trial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from studyapp.models import Study
from studyapp.services.bundles import bundle_import
from studyapp.services.studies import study_create
from tests.browser import driver
from tests.browser.conftest import screenshot
from tests.browser.realistic_bundle import write_realistic_bundle
from tests.synthetic_bundle import write_synthetic_bundle

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
MIN_TEXT_PX = 11
# Rendered size of every text of a picture's axes: the font's CSS px times the scale its SVG
# draws at (1 for the page's own axes; width shown / width in pixels for text inside an image).
TEXT_SIZES = """() => [...document.querySelectorAll('#trial .picture text, #trial .picture .axis-title')]
  .map(el => {
    const scale = el.getScreenCTM ? el.getScreenCTM().a : 1;
    return [el.textContent, parseFloat(getComputedStyle(el).fontSize) * scale,
            el.getBoundingClientRect().height];
  })"""
# Each radio group and slider of the answer form: how many rows its controls take.
ROWS = """() => [...document.querySelectorAll('#answer-form .choices:not(.keypad), #answer-form .slider-row')]
  .map(group => {
    let rows = 0, bottom = -Infinity;
    const boxes = [...group.children].map(c => c.getBoundingClientRect()).sort((a, b) => a.top - b.top);
    for (const box of boxes) {
      if (box.top >= bottom - 1) { rows += 1; bottom = box.bottom; } else bottom = Math.max(bottom, box.bottom);
    }
    return rows;
  })"""
# Scrolled to the end of the page: every element outside the Submit bar that reaches under it.
UNDER_BAR = """() => {
  window.scrollTo(0, document.documentElement.scrollHeight);
  const bar = document.getElementById('submit-answer').closest('.submit-bar');
  const top = bar.getBoundingClientRect().top;
  return [...document.body.querySelectorAll('*')]
    .filter(el => !bar.contains(el) && !el.contains(bar) && el.getBoundingClientRect().bottom > top + 0.5)
    .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''));
}"""

# Kinds of trial and the study that shows them: (name, modality, study fields).
KINDS = [
    ("visual-rated", "visual", {"ask_rating": True, "n_practice": 1, "n_catch": 1}),
    ("both-rated", "both", {"ask_rating": True}),
    ("both-rated-confident", "both", {"ask_rating": True, "ask_confidence": True}),
    ("audible", "audible", {}),
    ("none-verification", "none", {"task": "verification"}),
    ("visual-confidence", "visual", {"ask_confidence": True}),
    ("learning-test", "visual", {"design": "learning_test", "n_pretest": 1, "n_learning": 1}),
    ("preference", "visual", {"design": "preference"}),
    ("cue-detection-visual", "visual", {"design": "model_comparison"}),
    ("cue-detection", "both", {"design": "model_comparison", "ask_confidence": True}),
    ("explanation-only", "audible", {"explanation_only": True}),
]


@pytest.fixture(scope="module")
def two_method_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two methods, for preference pairs."""
    return write_realistic_bundle(
        tmp_path_factory.mktemp("two-methods") / "b",
        methods=("lrp-epsilon-plus-flat", "gradient-x-input"),
    )


@pytest.fixture(scope="module")
def cue_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cued and a control model (cue-detection pairs); its test images keep their own axes."""
    return write_synthetic_bundle(
        tmp_path_factory.mktemp("phone-cue") / "b", n=20, share_cue=0.5, control_model=True
    )


def _study(bundle_dir: Path, slug: str, modality: str, fields: dict[str, Any]) -> Study:
    design = {"n_trials": 1, "n_practice": 0, "n_catch": 0, "max_replays": 1, **fields}
    return study_create(
        slug=slug,
        title="Listening study",
        bundle=bundle_import(bundle_dir=bundle_dir),
        status=Study.Status.LIVE,
        conditions=[(modality, modality, "")],
        consent_text="Consent.",
        completion_code="C0MPL3TE",
        **design,
    )


def _check_trial(page: Page, name: str) -> None:
    """The trial as first shown (scrolled to the top): text sizes, rows, Submit on screen."""
    page.evaluate("() => window.scrollTo(0, 0)")
    sizes = page.evaluate(TEXT_SIZES)
    small = [
        (text, round(px, 1))
        for text, px, height in sizes
        if px < MIN_TEXT_PX or height < MIN_TEXT_PX
    ]
    assert not small, f"{name}: axis text under {MIN_TEXT_PX} CSS px: {small}"
    if (
        page.locator("#trial .heatmap, #trial .pair-side").count()
        and page.locator("#trial img").count() == 0
    ):
        assert len(sizes) >= 10, f"{name}: the picture has no axes drawn by the page"
    rows = page.evaluate(ROWS)
    assert all(n == 1 for n in rows), f"{name}: a scale wraps onto several rows: {rows}"
    submit = page.locator("#submit-answer").bounding_box()
    assert submit is not None and submit["y"] + submit["height"] <= 844, (
        f"{name}: Submit ends at {submit and round(submit['y'] + submit['height'])} px, below the 844 px screen"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def _check_end(page: Page, name: str) -> None:
    """The trial scrolled to its end: the Submit bar covers none of the page."""
    covered = page.evaluate(UNDER_BAR)
    assert not covered, f"{name}: at the end of the page the Submit bar covers {covered}"


@pytest.mark.parametrize(("name", "modality", "fields"), KINDS, ids=[kind[0] for kind in KINDS])
def test_every_kind_of_trial_fits_a_phone_with_readable_axes_and_scales_on_one_row(
    site: Any,
    new_page: Any,
    two_method_bundle_dir: Path,
    cue_bundle_dir: Path,
    name: str,
    modality: str,
    fields: dict[str, Any],
) -> None:
    bundle_dir = (
        cue_bundle_dir if fields.get("design") == "model_comparison" else two_method_bundle_dir
    )
    study = _study(bundle_dir, f"phone-{name}", modality, fields)
    page, watch = new_page(**PHONE)
    driver.start(page, site, study.slug, f"pid-phone-{name}")
    driver.agree(page)
    driver.read_instructions(page)
    page.wait_for_url("**/trial/1/")
    seen = []
    while "/trial/" in page.url:
        if "/feedback/" in page.url:
            page.locator("form button[type=submit]").click()
            page.wait_for_url(lambda url: "/feedback/" not in url)
            continue
        trial = driver.current_trial(page)
        seen.append(trial.kind)
        screenshot(page, f"phone-{name}-{trial.kind}", full_page=False)
        _check_trial(page, f"{name} {trial.kind}")
        _check_end(page, f"{name} {trial.kind}")
        screenshot(page, f"phone-{name}-{trial.kind}-end", full_page=False)
        for audio in page.locator("#trial audio[data-media]").all():
            media = audio.get_attribute("data-media")
            page.locator(f"#play-{media}").click()
            page.locator(f"#status-{media}").filter(has_text="Heard to the end").wait_for(
                timeout=driver.ANSWER_OPEN_MS
            )
        value = page.locator("input[name=answer]").first.get_attribute("value")
        driver.answer(
            page,
            driver.right_answer(trial) if trial.partner_id is None else value,
            rating=4 if page.locator("#rating-group").count() else None,
            confidence=50 if page.locator("#confidence-slider").count() else None,
        )
        screenshot(page, f"phone-{name}-{trial.kind}-answered", full_page=False)
        _check_trial(page, f"{name} {trial.kind} answered")
        _check_end(page, f"{name} {trial.kind} answered")
        screenshot(page, f"phone-{name}-{trial.kind}-answered-end", full_page=False)
        driver.submit(page)
    assert seen, name
    assert watch.problems == []


def test_the_submit_bar_keeps_one_row_with_the_back_link_on_a_320_px_phone(
    site: Any, new_page: Any
) -> None:
    study = driver.make_study(
        site.bundle, "phone-back", "visual", allow_back=True, n_trials=2, n_practice=0, n_catch=0
    )
    page, watch = new_page(**{**PHONE, "viewport": {"width": 320, "height": 640}})
    driver.start(page, site, study.slug, "pid-phone-back")
    driver.agree(page)
    driver.read_instructions(page)
    page.wait_for_url("**/trial/1/")
    driver.listen(page)
    driver.answer(page, driver.right_answer(driver.current_trial(page)))
    driver.submit(page)
    page.reload()  # the back link comes with a trial's own page, not with a swapped-in one
    back = page.get_by_role("link", name="Previous recording")
    submit = page.get_by_role("button", name="Submit and finish")
    bar = page.locator(".submit-bar").bounding_box()
    assert bar is not None and round(bar["height"]) == 64 and bar["y"] + bar["height"] == 640, bar
    assert back.bounding_box()["y"] == submit.bounding_box()["y"]  # type: ignore[index]
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    screenshot(page, "phone-320-back-link", full_page=False)
    _check_end(page, "back link")
    assert watch.problems == []


def test_a_control_that_takes_focus_under_the_submit_bar_is_scrolled_above_it(
    site: Any, new_page: Any
) -> None:
    study = driver.make_study(
        site.bundle,
        "phone-focus",
        "both",
        ask_rating=True,
        ask_confidence=True,
        n_practice=0,
        n_catch=0,
        audio_must_finish=False,
    )
    page, watch = new_page(**PHONE)
    driver.start(page, site, study.slug, "pid-phone-focus")
    driver.agree(page)
    driver.read_instructions(page)
    page.wait_for_url("**/trial/1/")
    slider = page.locator("#confidence-slider")
    bar_top = page.locator(".submit-bar").bounding_box()["y"]  # type: ignore[index]
    assert slider.bounding_box()["y"] + slider.bounding_box()["height"] > bar_top  # type: ignore[index]
    # Focus moved by a script, as trial.js moves it on: the slider is on the screen but under
    # the bar, and only the page's scroll padding makes the browser scroll it clear.
    slider.evaluate("el => el.focus()")
    expect(slider).to_be_focused()
    box = slider.bounding_box()
    assert box is not None and box["y"] + box["height"] <= bar_top, (box, bar_top)
    assert watch.problems == []
