"""The study designs in a real browser: cue detection, learning then test, explanation only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from studyapp.models import AudioEvent, Participant, Response, Study, Trial
from studyapp.services.bundles import bundle_import
from studyapp.services.studies import study_create
from tests.browser import driver
from tests.browser.conftest import screenshot
from tests.synthetic_bundle import write_synthetic_bundle


@pytest.fixture(scope="module")
def cue_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_bundle(
        tmp_path_factory.mktemp("browser-cue") / "b",
        n=20,
        methods=("lrp-epsilon-plus-flat", "gradient-x-input"),
        share_cue=0.5,
        control_model=True,
    )


def _study(site: Any, cue_bundle_dir: Path, slug: str, modality: str, **fields: Any) -> Study:
    return study_create(
        slug=slug,
        title=slug,
        bundle=bundle_import(bundle_dir=cue_bundle_dir),
        status=Study.Status.LIVE,
        conditions=[(modality, modality, "")],
        consent_text="Consent.",
        completion_code="C0MPL3TE",
        max_replays=1,
        **fields,
    )


def _listen_to_every_player(page: Page) -> None:
    """Play each clip on the page to the end, one after the other."""
    for audio in page.locator("audio[data-media]").all():
        media = audio.get_attribute("data-media")
        status = page.locator(f"#status-{media}")
        for _ in range(3):  # a click before the page's deferred script is ready does nothing
            page.locator(f"#play-{media}").click()
            if status.inner_text() != "Not played yet" or _started(status):
                break
        expect(page.locator(f"#status-{media}")).to_contain_text(
            "Heard to the end", timeout=driver.ANSWER_OPEN_MS
        )
    expect(page.locator("input[name=answer]").first).to_be_enabled(timeout=driver.ANSWER_OPEN_MS)


def _started(status: Any) -> bool:
    try:
        expect(status).not_to_have_text("Not played yet", timeout=3000)
    except AssertionError:
        return False
    return True


def _position(page: Page) -> int:
    return int(re.search(r"/trial/(\d+)/", page.url).group(1))  # type: ignore[union-attr]


def _take_trials(page: Page, choose: Any, shots: dict[str, str]) -> list[str]:
    kinds = []
    while "/trial/" in page.url:
        if "/feedback/" in page.url:
            kind = Trial.objects.get(
                participant=driver.participant_of(page),
                position=_position(page),
            ).kind
            if f"feedback-{kind}" in shots:
                screenshot(page, shots.pop(f"feedback-{kind}"))
            page.locator("form button[type=submit]").click()
            page.wait_for_url(lambda url: "/feedback/" not in url)
            continue
        trial = Trial.objects.select_related("stimulus", "partner").get(
            participant=driver.participant_of(page),
            position=_position(page),
        )
        kinds.append(trial.kind)
        _listen_to_every_player(page)
        driver.answer(
            page,
            choose(trial),
            confidence=70 if page.locator("#confidence-slider").count() else None,
        )
        if trial.kind in shots:
            screenshot(page, shots.pop(trial.kind))
        driver.submit(page)
    return kinds


def test_a_participant_finds_the_cued_model_among_two_audible_explanations(
    site: Any, new_page: Any, cue_bundle_dir: Path
) -> None:
    study = _study(
        site,
        cue_bundle_dir,
        "cue-run",
        "both",
        design="model_comparison",
        n_trials=2,
        ask_confidence=True,
    )
    page, watch = new_page()
    driver.start(page, site, study.slug, "pid-cue")
    driver.agree(page)
    driver.read_instructions(page)
    for side in ("First explanation", "Second explanation"):
        region = page.get_by_role("region", name=side)
        expect(region.get_by_role("button", name="Play explanation")).to_be_visible()
    expect(page.locator(".pair-side img")).to_have_count(2)
    kinds = _take_trials(
        page,
        lambda t: "first" if t.stimulus.model_id == "" else "second",
        {"main": "design-cue-detection"},
    )
    expect(page.locator("#completion-code")).to_have_text("C0MPL3TE")
    assert kinds == ["main", "main"]
    participant = Participant.objects.get(prolific_pid="pid-cue")
    responses = list(Response.objects.filter(trial__participant=participant))
    assert len(responses) == 2 and all(r.answer_correct and r.confidence == 70 for r in responses)
    played = set(
        AudioEvent.objects.filter(trial__participant=participant).values_list("media", flat=True)
    )
    assert played == {"original", "explanation", "partner"}
    assert watch.problems == []


def test_learning_then_test_shows_explanations_and_feedback_only_in_the_learning_block(
    site: Any, new_page: Any, cue_bundle_dir: Path
) -> None:
    study = _study(
        site,
        cue_bundle_dir,
        "learning-run",
        "visual",
        design="learning_test",
        n_pretest=1,
        n_learning=1,
        n_trials=1,
    )
    page, watch = new_page()
    driver.start(page, site, study.slug, "pid-learn")
    driver.agree(page)
    driver.read_instructions(page)
    seen = []

    def choose(trial: Trial) -> str:
        seen.append((trial.kind, page.locator("figcaption").inner_text().startswith("Explanation")))
        return trial.stimulus.predicted_label

    kinds = _take_trials(
        page,
        choose,
        {"learning": "design-learning", "feedback-learning": "design-learning-feedback"},
    )
    assert kinds == ["pretest", "learning", "main"]
    assert seen == [("pretest", False), ("learning", True), ("main", False)]
    expect(page.locator("#completion-code")).to_have_text("C0MPL3TE")
    assert watch.problems == []


def test_an_explanation_only_study_never_offers_the_recording(
    site: Any, new_page: Any, cue_bundle_dir: Path
) -> None:
    study = _study(site, cue_bundle_dir, "eo-run", "audible", explanation_only=True, n_trials=1)
    page, watch = new_page()
    driver.start(page, site, study.slug, "pid-eo")
    driver.agree(page)
    driver.read_instructions(page)
    expect(page.get_by_role("button", name="Play explanation")).to_be_visible()
    expect(page.get_by_role("button", name="Play recording")).to_have_count(0)
    _take_trials(page, lambda t: t.stimulus.predicted_label, {"main": "design-explanation-only"})
    expect(page.locator("#completion-code")).to_have_text("C0MPL3TE")
    participant = Participant.objects.get(prolific_pid="pid-eo")
    played = set(
        AudioEvent.objects.filter(trial__participant=participant).values_list("media", flat=True)
    )
    assert played == {"explanation"}
    assert watch.problems == []


def test_a_participant_picks_the_more_helpful_of_two_methods_explanations(
    site: Any, new_page: Any, cue_bundle_dir: Path
) -> None:
    study = _study(site, cue_bundle_dir, "pref-run", "visual", design="preference", n_trials=2)
    page, watch = new_page()
    driver.start(page, site, study.slug, "pid-pref")
    driver.agree(page)
    driver.read_instructions(page)
    expect(page.get_by_text("Which explanation helps you more")).to_be_visible()
    expect(page.locator(".pair-side img")).to_have_count(2)
    _take_trials(page, lambda t: "second", {"main": "design-preference"})
    expect(page.locator("#completion-code")).to_have_text("C0MPL3TE")
    trials = Trial.objects.filter(participant__prolific_pid="pid-pref").select_related(
        "stimulus", "partner", "response"
    )
    assert [t.response.answer for t in trials] == ["second", "second"]
    assert all(
        {t.stimulus.method, t.partner.method} == {"lrp-epsilon-plus-flat", "gradient-x-input"}
        for t in trials
    )
    assert watch.problems == []
