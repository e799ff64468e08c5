"""Complete participant runs in a real browser, checked against the database afterwards."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from studyapp.models import Participant, Response
from tests.browser import driver
from tests.browser.conftest import screenshot


def test_a_participant_completes_the_visual_condition_with_every_page(site: Any, new_page: Any) -> None:
    study = driver.make_study(site.bundle, "visual-run", "visual", demographics=["age_range", "hearing_problems",
                              "native_language", "audio_device"], headphone_screen=True, screen_trials=2,
                              screen_pass_threshold=2, ask_rating=True, ask_confidence=True)
    page, watch = new_page()
    driver.start(page, site, study.slug, "pid-visual", shot="entry")
    driver.agree(page, shot="consent")
    driver.about_you(page, shot="demographics")
    driver.set_volume(page, shot="calibration")
    driver.sound_checks(page, correct=True, shot="screening")
    driver.read_instructions(page, shot="instructions")
    kinds = driver.do_trials(page, shots={"practice": "trial-practice-visual", "feedback": "feedback",
                                          "catch": "trial-catch", "main": "trial-main-visual"},
                             rating=5, confidence=70)
    expect(page.get_by_text("C0MPL3TE")).to_be_visible()
    screenshot(page, "done")
    participant = Participant.objects.get(prolific_pid="pid-visual")
    assert participant.status == Participant.Status.COMPLETED
    assert sorted(kinds) == ["catch", "main", "main", "practice"]
    responses = Response.objects.filter(trial__participant=participant)
    assert responses.count() == 4 and all(r.answer_correct for r in responses)
    assert watch.problems == [] and watch.foreign_requests() == []
