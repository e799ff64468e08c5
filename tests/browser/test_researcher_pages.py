"""The researcher's pages in a real browser: the study page's checklist and copy buttons,
a test session in a chosen condition, the preview trial table, the dashboard's charts and the
participant timeline.

With ``HEARXAI_UPDATE_DOC_FIGURES=1`` the screenshots also replace those of
docs/researcher-guide.md (docs/figures/researcher-*.png).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import Locator, Page, expect

from studyapp.models import Participant, Study
from studyapp.services.studies import study_create
from tests.browser.conftest import screenshot
from tests.browser.driver import (
    agree,
    do_trials,
    leave_and_come_back,
    on_trial_page,
    read_instructions,
)
from tests.conftest import REPO

DOC_FIGURES = REPO / "docs" / "figures"


def _doc_screenshot(page: Page, name: str, part: Locator | None = None) -> Path:
    """A screenshot of the page (or of ``part`` of it) kept as a test artefact."""
    path = screenshot(page, name)
    if part is not None:
        part.screenshot(path=str(path))
    if os.environ.get("HEARXAI_UPDATE_DOC_FIGURES") == "1":
        shutil.copyfile(path, DOC_FIGURES / f"{name}.png")
    return path


def _logged_in_page(new_page: Any, site: Any) -> Page:
    user = get_user_model().objects.create_superuser("researcher", "r@example.org", "pw-unused")
    client = Client()
    client.force_login(user)
    page, watch = new_page(viewport={"width": 1280, "height": 900})
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": site.url}]
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page.watch = watch  # type: ignore[attr-defined]
    return page


def test_a_researcher_copies_the_links_tests_a_condition_and_reads_what_happened(
    new_page: Any, site: Any
) -> None:
    study = study_create(
        slug="launch",
        title="Listening study (launch checklist)",
        bundle=site.bundle,
        modalities=["visual", "audible"],
        status=Study.Status.PILOT,
        n_trials=2,
        consent_text="You are invited to a study about explanations.",
        completion_code="C0MPL3TE",
        completion_url="https://app.prolific.com/submissions/complete?cc=C0MPL3TE",
        target_per_condition=20,
        target_basis="the power analysis (0.8 power for a 10-point difference)",
    )
    page = _logged_in_page(new_page, site)
    page.goto(f"{site.url}/admin/studyapp/study/")
    link = page.get_by_role("link", name="dashboard")
    box = link.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1280  # not clipped at 1280 px
    page.goto(f"{site.url}/admin/studyapp/study/{study.pk}/change/")
    checklist = page.locator(".launch-checklist")
    expect(checklist).to_contain_text("between participants, 2 conditions (visual, audible)")
    expect(checklist).to_contain_text("(40 in all) by the power analysis (0.8 power for a")
    _doc_screenshot(page, "researcher-study-page", checklist)

    prolific = page.locator("tr[data-key=prolific] button.copy-button")
    prolific.click()
    expect(prolific).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == (
        f"{site.url}/s/launch/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}"
        "&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    )
    page.locator("tr[data-key=completion_code] button.copy-button").click()
    expect(page.locator("tr[data-key=completion_code] button")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "C0MPL3TE"

    page.get_by_role("button", name="Start a test session in audible").click()
    expect(page.get_by_role("heading", name="Information and consent")).to_be_visible()
    session = Participant.objects.get(study=study)
    assert (session.condition.name, session.is_pilot) == ("audible", True)
    agree(page)
    read_instructions(page)
    on_trial_page(page)
    leave_and_come_back(page)  # on trial 1: the timeline shows it
    do_trials(page)
    assert "/done/" in page.url

    page.goto(f"{site.url}/research/preview/launch/trials/")
    page.locator("#id_group").select_option("audible")
    page.locator("#id_seed").fill(str(session.seed))
    page.get_by_role("button", name="Show trials").click()
    rows = page.locator("table.trial-table tbody tr")
    expect(rows).to_have_count(session.trials.count())
    first = session.trials.select_related("stimulus").get(position=1).stimulus
    expect(rows.first).to_contain_text(first.stimulus_id)
    _doc_screenshot(page, "researcher-trial-table")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("position,kind,stimulus,true_label,model_decision,model_correct")
    assert len(lines) == 1 + session.trials.count()

    page.goto(f"{site.url}/research/studies/launch/?phase=pilot")
    # The charts are drawn by the page's script from the numbers it fetches.
    segments = page.locator("figure.dashboard-chart svg rect[data-outcome]")
    expect(segments).to_have_count(1)
    assert segments.first.text_content() == "audible: 1 completed"
    expect(page.locator("figure.dashboard-chart svg rect[data-condition=audible]")).to_have_count(1)
    screenshot(page, "researcher-dashboard")
    page.get_by_role("link", name=session.pseudonym).click()
    timeline = page.locator("table.timeline-table")
    expect(timeline).to_contain_text("consented")
    expect(timeline).to_contain_text("trial 1 answered")
    left = timeline.locator("tr.flagged")
    expect(left).to_have_count(1)
    expect(left).to_contain_text("trial 1 answered")
    expect(left).to_contain_text(re.compile(r"window lost focus 1x, page hidden 1x for \d+\.\d s"))
    first_answer = session.trials.get(position=1).response
    assert (first_answer.focus_losses, first_answer.hidden_count) == (1, 1)
    assert first_answer.hidden_ms >= 300
    expect(timeline).to_contain_text("trial 2 answered")
    expect(timeline.locator("tr", has_text="trial 2 answered")).to_contain_text(
        "stayed on the page"
    )
    expect(timeline).to_contain_text("completed")
    expect(page.locator(".final-state")).to_contain_text("completed, pilot: 2 of 2 trials answered")
    _doc_screenshot(page, "researcher-timeline")
    assert page.watch.problems == []  # type: ignore[attr-defined]
