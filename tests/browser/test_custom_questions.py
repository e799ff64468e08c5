"""Custom questions in a real browser: the researcher defines them in the study form, a
participant answers them before and after the trials, and the export carries the answers
with their codebook entries.

With ``HEARXAI_UPDATE_DOC_FIGURES=1`` the screenshots also replace those of
docs/researcher-guide.md.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from playwright.sync_api import Page, expect

from studyapp.models import Participant, Question, Study
from studyapp.services.studies import study_create
from tests.browser.driver import agree, do_trials, read_instructions
from tests.browser.test_researcher_pages import _doc_screenshot, _logged_in_page

ROWS = [
    ("before", "music_training", "Have you had any musical training?", "single_choice", ""),
    (
        "after",
        "effort",
        "How hard did you try to follow the explanations?",
        "likert",
        "Not at all\nA little\nSomewhat\nHard\nVery hard",
    ),
    ("after", "listening_hours", "How many hours a day do you listen to audio?", "number", ""),
]


def _fill_row(page: Page, i: int, row: tuple[str, str, str, str, str]) -> None:
    placement, column, text, kind, options = row
    page.locator(f"#id_questions-{i}-placement").select_option(placement)
    page.locator(f"#id_questions-{i}-column").fill(column)
    page.locator(f"#id_questions-{i}-text").fill(text)
    page.locator(f"#id_questions-{i}-kind").select_option(kind)
    page.locator(f"#id_questions-{i}-options").fill(options)
    page.locator(f"#id_questions-{i}-position").fill(str(i))


def _define_questions(page: Page, study: Study, site: Any) -> None:
    page.goto(f"{site.url}/admin/studyapp/study/add/")
    expect(page.locator("input[name=modalities]:checked")).to_have_count(0)
    expect(page.locator("#questions-group")).to_be_visible()  # questions can be added at once
    _doc_screenshot(page, "researcher-study-form")
    page.goto(f"{site.url}/admin/studyapp/study/{study.pk}/change/")
    for i, row in enumerate(ROWS):
        page.get_by_role("button", name="Add another Custom question").click()
        _fill_row(page, i, row)
    page.locator("#id_questions-2-minimum").fill("0")
    page.locator("#id_questions-2-maximum").fill("24")
    page.get_by_role("button", name="Save and continue editing").click()
    error = page.locator("#questions-group .errorlist")
    expect(error.first).to_contain_text("a choice question needs at least two options")
    _doc_screenshot(page, "researcher-question-error", page.locator("#questions-group"))
    assert not Question.objects.exists()  # nothing saved from a refused form

    page.locator("#id_questions-0-options").fill("None\nSome\nA lot")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert sorted(study.questions.values_list("column", flat=True)) == [
        "effort",
        "listening_hours",
        "music_training",
    ]
    _doc_screenshot(page, "researcher-custom-questions", page.locator("#questions-group"))


def _answer_as_participant(page: Page) -> Participant:
    page.get_by_role("button", name="Start a test session in visual").click()
    agree(page)
    expect(page.get_by_role("heading", name="A few questions")).to_be_visible()
    page.get_by_role("radio", name="Some").check()
    page.get_by_role("button", name="Continue").click()
    read_instructions(page)
    do_trials(page)
    expect(page.get_by_role("heading", name="A few last questions")).to_be_visible()
    page.get_by_role("button", name="Continue").click()  # nothing answered: refused
    expect(page.locator(".error").first).to_contain_text("Please answer the questions marked")
    page.get_by_role("radio", name="4: Hard").check()
    page.get_by_role("spinbutton", name="How many hours a day").fill("2.5")
    _doc_screenshot(page, "researcher-questions-participant")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/done/")
    return Participant.objects.get()


def _export(page: Page, study: Study, site: Any) -> zipfile.ZipFile:
    page.goto(f"{site.url}/admin/studyapp/study/{study.pk}/export/")
    page.get_by_label("Include pilot").check()
    page.get_by_role("button", name="Start export").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="download zip").click()
    return zipfile.ZipFile(download.value.path())


def test_a_researcher_asks_her_own_questions_and_finds_the_answers_in_the_export(
    new_page: Any, site: Any
) -> None:
    study = study_create(
        slug="questions",
        title="Listening study (own questions)",
        bundle=site.bundle,
        modalities=["visual"],
        status=Study.Status.DRAFT,
        n_trials=2,
        consent_text="You are invited to a study about explanations.",
    )
    page = _logged_in_page(new_page, site)
    _define_questions(page, study, site)
    page.locator("#id_status").select_option("pilot")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    session = _answer_as_participant(page)
    assert session.status == Participant.Status.COMPLETED

    archive = _export(page, study, site)
    (participants,) = [n for n in archive.namelist() if n.endswith("participants.csv")]
    (book_name,) = [n for n in archive.namelist() if n.endswith("dataset_description.json")]
    header, row = io.TextIOWrapper(archive.open(participants), encoding="utf-8").read().splitlines()
    answers = dict(zip(header.split(","), row.split(","), strict=True))
    assert (answers["music_training"], answers["effort"], answers["listening_hours"]) == (
        "Some",
        "4",
        "2.5",
    )
    book = json.loads(archive.read(book_name))
    entries = {v["name"]: v for v in book["variableMeasured"]}
    assert entries["music_training"]["levels"] == ["None", "Some", "A lot"]
    assert entries["effort"]["valueLabels"]["4"] == "Hard"
    assert entries["listening_hours"]["question"].startswith("How many hours a day")

    page.goto(f"{site.url}/research/studies/questions/timeline/?who={session.pseudonym}")
    timeline = page.locator("table.timeline-table")
    expect(timeline).to_contain_text("questions before the trials answered")
    expect(timeline).to_contain_text("music_training = Some")
    expect(timeline).to_contain_text("effort = 4, listening_hours = 2.5")
    assert page.watch.problems == []  # type: ignore[attr-defined]
