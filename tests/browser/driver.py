"""A participant in a real browser: each step done through the page, as a person would."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from studyapp.models import Participant, Study, Trial
from studyapp.services.studies import study_create
from tests.browser.conftest import screenshot

# Generous: the machine may be shared, and a stalled media pipeline should show as a clear failure.
ANSWER_OPEN_MS = 20_000


def make_study(bundle: Any, slug: str, modality: str, **fields: Any) -> Study:
    design = {
        "status": Study.Status.LIVE,
        "n_trials": 2,
        "n_practice": 1,
        "n_catch": 1,
        "consent_text": "You are invited to a study about explanations.\n\nTaking part is voluntary.",
        "completion_code": "C0MPL3TE",
        "screenout_code": "SCR33N",
        "noconsent_code": "N0C0NSENT",
        "max_replays": 1,
        **fields,
    }
    return study_create(
        slug=slug,
        title=f"Listening study ({modality})",
        bundle=bundle,
        conditions=design.pop("conditions", [(modality, modality, "")]),
        **design,
    )


def participant_of(page: Page) -> Participant:
    token = re.search(r"/p/([^/]+)/", page.url).group(1)  # type: ignore[union-attr]
    return Participant.objects.get(token=token)


def path_of(page: Page) -> str:
    return re.sub(r"^https?://[^/]+", "", page.url)


def start(page: Page, site: Any, slug: str, pid: str, shot: str = "") -> None:
    page.goto(f"{site.url}/s/{slug}/?PROLIFIC_PID={pid}&STUDY_ID=study-1&SESSION_ID=session-{pid}")
    if shot:
        screenshot(page, shot)
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name="Information and consent")).to_be_visible()


def agree(page: Page, shot: str = "") -> None:
    if shot:
        screenshot(page, shot)
    page.get_by_role("button", name="I agree to take part").click()


def about_you(page: Page, shot: str = "") -> None:
    expect(page.get_by_role("heading", name="About you")).to_be_visible()
    if shot:
        screenshot(page, shot)
    page.get_by_role("radio", name="25 to 34").check()
    page.get_by_role("radio", name="No", exact=True).check()
    page.get_by_role("textbox", name="What is your native language?").fill("English")
    page.get_by_role("radio", name="Headphones or earphones").check()
    page.get_by_role("button", name="Continue").click()


def set_volume(page: Page, shot: str = "") -> None:
    expect(page.get_by_role("heading", name="Set your volume")).to_be_visible()
    if shot:
        screenshot(page, shot)
    page.get_by_role("button", name="Play noise").click()
    expect(page.locator("#status-calibration")).to_contain_text(
        "Played 1 time", timeout=ANSWER_OPEN_MS
    )
    go_on = page.get_by_role("button", name="My volume is set, continue")
    expect(go_on).to_be_enabled()
    go_on.click()


def sound_checks(page: Page, *, correct: bool, shot: str = "") -> None:
    """Answer every sound check, right (reading the answer from the database) or wrong."""
    while "/sound-check/" in page.url:
        number = int(re.search(r"/sound-check/(\d+)/", page.url).group(1))  # type: ignore[union-attr]
        target = participant_of(page).screening["targets"][number - 1]
        choice = target if correct else target % 3 + 1
        page.get_by_role("button", name="Play the three noises").click()
        button = page.get_by_role("button", name=f"Noise {choice}")
        expect(button).to_be_enabled(timeout=ANSWER_OPEN_MS)
        if shot and number == 1:
            screenshot(page, shot)
        old = page.url
        button.click()
        page.wait_for_url(lambda url, old=old: url != old)


def read_instructions(page: Page, shot: str = "") -> None:
    expect(page.get_by_role("heading", name="Instructions")).to_be_visible()
    if shot:
        screenshot(page, shot)
    page.locator("form button[type=submit]").click()


def current_trial(page: Page) -> Trial:
    position = int(re.search(r"/trial/(\d+)/", page.url).group(1))  # type: ignore[union-attr]
    return Trial.objects.select_related("stimulus", "condition").get(
        participant=participant_of(page), position=position
    )


def right_answer(trial: Trial) -> str:
    if trial.kind == Trial.Kind.CATCH:
        return trial.expected_answer
    if trial.participant.study.task == Study.Task.VERIFICATION:
        return "yes" if trial.stimulus.model_correct else "no"
    return trial.stimulus.predicted_label


def leave_and_come_back(page: Page, *, away_ms: int = 300) -> None:
    """The participant switches to another tab and back: the window loses focus and the
    page is hidden for ``away_ms`` (headless Chromium never hides a page by itself, so the
    page's own visibility state is set as a real switch would set it)."""
    page.evaluate(
        """async (awayMs) => {
          const state = (value) => Object.defineProperty(document, "visibilityState",
            { value, configurable: true });
          window.dispatchEvent(new Event("blur"));
          state("hidden"); document.dispatchEvent(new Event("visibilitychange"));
          await new Promise((done) => setTimeout(done, awayMs));
          state("visible"); document.dispatchEvent(new Event("visibilitychange"));
        }""",
        away_ms,
    )


def on_trial_page(page: Page) -> None:
    """Wait until the trial page has loaded with its scripts (they count focus and plays)."""
    page.wait_for_url("**/trial/**")
    page.wait_for_load_state("load")
    expect(page.get_by_role("button", name="Play recording")).to_be_visible()


def listen(page: Page) -> None:
    """Play every clip the page offers to the end, as the study requires."""
    page.get_by_role("button", name="Play recording").click()
    explanation = page.get_by_role("button", name="Play explanation")
    if explanation.count():
        expect(page.locator("#status-original")).to_contain_text(
            "Heard to the end", timeout=ANSWER_OPEN_MS
        )
        explanation.click()
    expect(page.locator("input[name=answer]").first).to_be_enabled(timeout=ANSWER_OPEN_MS)


def answer(
    page: Page, value: str, *, rating: int | None = None, confidence: int | None = None
) -> None:
    page.locator(f"input[name=answer][value='{value}']").check()
    if rating is not None:
        page.locator(f"input[name=rating][value='{rating}']").check()
    if confidence is not None:
        page.locator("#confidence-slider").fill(str(confidence))


def submit(page: Page) -> None:
    old = page.url
    page.locator("#submit-answer").click()
    page.wait_for_url(lambda url: url != old)


def do_trials(
    page: Page,
    *,
    shots: dict[str, str] | None = None,
    rating: int | None = None,
    confidence: int | None = None,
) -> list[str]:
    """Answer every trial correctly (continuing past practice feedback); returns the kinds met."""
    kinds = []
    shots = dict(shots or {})
    while "/trial/" in page.url:
        if page.url.endswith("/feedback/"):
            if "feedback" in shots:
                screenshot(page, shots.pop("feedback"))
            page.locator("form button[type=submit]").click()
            page.wait_for_url(lambda url: not url.endswith("/feedback/"))
            continue
        trial = current_trial(page)
        kinds.append(trial.kind)
        listen(page)
        answer(page, right_answer(trial), rating=rating, confidence=confidence)
        if trial.kind in shots:
            screenshot(page, shots.pop(trial.kind))
        submit(page)
    return kinds
