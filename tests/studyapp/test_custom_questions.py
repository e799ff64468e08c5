"""Custom questions: defined in the admin, asked before or after the trials, exported with a codebook."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from contracts import export_format as fmt
from studyapp.models import Bundle, Participant, Question, Study
from studyapp.services.exports import export_write
from studyapp.services.studies import study_duplicate
from tests.studyapp.research_helpers import answer, bundle_with, enrol, study_on
from tests.studyapp.test_admin_study import _change_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def bundle(media_root: Path, tmp_path: Path) -> Bundle:
    return bundle_with(tmp_path, n=30)


def _rows(*rows: dict[str, Any]) -> dict[str, Any]:
    """Inline form data for new question rows."""
    data: dict[str, Any] = {"questions-TOTAL_FORMS": len(rows), "questions-INITIAL_FORMS": 0}
    for i, row in enumerate(rows):
        values = {"position": i, "placement": "before", "required": "on", **row}
        data.update({f"questions-{i}-{k}": v for k, v in values.items() if v is not None})
    return data


MUSIC = {"column": "music_training", "text": "Have you had musical training?", "kind": "single_choice",
         "options": "None\nSome\nA lot"}  # fmt: skip
DEVICES = {"column": "devices", "text": "Which do you own?", "kind": "multiple_choice",
           "options": "Headphones\nSmart speaker\nHearing aid", "required": None}  # fmt: skip
EFFORT = {"column": "effort", "text": "How hard did you try?", "kind": "likert",
          "options": "Not at all\nA little\nSomewhat\nHard\nVery hard", "placement": "after"}  # fmt: skip
HOURS = {"column": "listening_hours", "text": "Hours of listening a day?", "kind": "number",
         "minimum": "0", "maximum": "24", "placement": "after"}  # fmt: skip
REMARKS = {"column": "remarks", "text": "Anything to tell us?", "kind": "short_text",
           "placement": "after", "required": None}  # fmt: skip


def _post(client: Client, study: Study, *rows: dict[str, Any]) -> tuple[int, str]:
    data = _change_form(client, study) | _rows(*rows)
    response = client.post(reverse("admin:studyapp_study_change", args=[study.pk]), data)
    return response.status_code, response.content.decode()


def test_a_researcher_adds_questions_of_each_kind_in_the_study_form(
    admin_client: Client, bundle: Bundle
) -> None:
    study = study_on(bundle, "q", status=Study.Status.DRAFT)
    status, html = _post(admin_client, study, MUSIC, DEVICES, EFFORT, HOURS, REMARKS)
    assert status == 302, html
    stored = {q.column: q for q in study.questions.all()}
    assert set(stored) == {"music_training", "devices", "effort", "listening_hours", "remarks"}
    assert stored["effort"].option_list[-1] == "Very hard"
    assert (stored["listening_hours"].minimum, stored["listening_hours"].maximum) == (0, 24)
    assert not stored["devices"].required
    copy = study_duplicate(study=study)
    assert sorted(copy.questions.values_list("column", flat=True)) == sorted(stored)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({**MUSIC, "options": ""}, "a choice question needs at least two options, one per line"),
        ({**MUSIC, "options": "Only one"}, "a choice question needs at least two options"),
        ({**MUSIC, "options": "Yes\nYes"}, "each option must differ from the others"),
        ({**MUSIC, "options": "a;b\nc"}, "an option may not contain &#x27;;&#x27;"),
        ({**EFFORT, "options": "Agree"}, "a Likert scale needs a label for each of its 2 to 11"),
        ({**MUSIC, "column": "Music Training"}, "a column name is a lower-case letter"),
        ({**MUSIC, "column": "status"}, "is a column participants.csv already has"),
        ({**HOURS, "minimum": "10", "maximum": "2"}, "the largest value is below the smallest"),
        ({**REMARKS, "options": "a\nb"}, "a short text question has no options"),
        ({**MUSIC, "minimum": "1"}, "only a number question has a smallest and largest value"),
    ],
)
def test_a_question_that_cannot_be_asked_is_refused_on_its_field_and_nothing_is_saved(
    admin_client: Client, bundle: Bundle, row: dict[str, Any], message: str
) -> None:
    study = study_on(bundle, "q", status=Study.Status.DRAFT)
    status, html = _post(admin_client, study, row)
    assert status == 200 and message in html
    assert not Question.objects.exists()


def test_two_questions_may_not_share_a_column(admin_client: Client, bundle: Bundle) -> None:
    study = study_on(bundle, "q", status=Study.Status.DRAFT)
    status, html = _post(admin_client, study, MUSIC, {**DEVICES, "column": "music_training"})
    assert status == 200 and "Please correct the duplicate data for column" in html
    assert not Question.objects.exists()


def test_the_questions_of_a_live_study_are_frozen(admin_client: Client, bundle: Bundle) -> None:
    study = study_on(bundle, "q", status=Study.Status.DRAFT)
    assert _post(admin_client, study, MUSIC)[0] == 302
    study.status = Study.Status.LIVE
    study.live_since = study.updated_at
    study.save()
    page = admin_client.get(reverse("admin:studyapp_study_change", args=[study.pk])).content
    assert b'name="questions-0-text"' not in page and b"Have you had musical training?" in page
    data = _change_form(admin_client, study) | _rows({**REMARKS, "position": 5})
    data["questions-INITIAL_FORMS"] = 0
    admin_client.post(reverse("admin:studyapp_study_change", args=[study.pk]), data)
    assert list(study.questions.values_list("column", flat=True)) == ["music_training"]


def _questions_study(bundle: Bundle) -> Study:
    study = study_on(bundle, "asked", n_trials=4)
    for position, row in enumerate((MUSIC, DEVICES, EFFORT, HOURS, REMARKS)):
        values = {k: v for k, v in row.items() if v is not None}
        values.setdefault("placement", "before")
        Question.objects.create(
            study=study,
            position=position,
            required=row.get("required", "on") == "on",
            **{k: v for k, v in values.items() if k != "required"},
        )
    return study


def test_a_participant_answers_before_and_after_the_trials_and_the_export_has_the_answers(
    client: Client, bundle: Bundle, tmp_path: Path
) -> None:
    study = _questions_study(bundle)
    participant = enrol(study, "anna")
    resume = reverse("resume", args=[participant.token])
    before = reverse("questions_before", args=[participant.token])
    assert client.get(resume).url == before
    page = client.get(before).content.decode()
    assert "Have you had musical training?" in page and "Hours of listening" not in page
    refused = client.post(before, {"devices": ["Headphones"]})
    assert refused.status_code == 400 and "Please choose one of the options." in refused.text
    participant.refresh_from_db()
    assert participant.question_answers == {}
    sent = {"music_training": "Some", "devices": ["Headphones", "Hearing aid"]}
    assert client.post(before, sent).url == reverse("instructions", args=[participant.token])
    client.post(reverse("instructions", args=[participant.token]))

    answer(participant)
    participant.refresh_from_db()
    assert participant.status == Participant.Status.IN_PROGRESS  # the last questions are due
    after = reverse("questions_after", args=[participant.token])
    assert client.get(resume).url == after
    too_many = client.post(after, {"effort": "4", "listening_hours": "30"})
    assert too_many.status_code == 400 and "less than or equal to 24" in too_many.text
    assert client.post(after, {"effort": "4", "listening_hours": "2.5"}).url.endswith("/done/")
    assert "DONE" in client.get(reverse("done", args=[participant.token])).text
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED

    out = tmp_path / "export"
    export_write(study=study, out_dir=out)
    with (out / fmt.PARTICIPANTS_FILE).open(encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert {k: row[k] for k in ("music_training", "devices", "effort", "listening_hours")} == {
        "music_training": "Some",
        "devices": "Headphones;Hearing aid",
        "effort": "4",
        "listening_hours": "2.5",
    }
    assert row["remarks"] == ""
    book = json.loads((out / fmt.CODEBOOK_FILE).read_text(encoding="utf-8"))
    entries = {v["name"]: v for v in book["variableMeasured"] if v["file"] == fmt.PARTICIPANTS_FILE}
    assert entries["music_training"]["levels"] == ["None", "Some", "A lot"]
    assert entries["devices"]["options"] == ["Headphones", "Smart speaker", "Hearing aid"]
    assert entries["effort"]["valueLabels"]["5"] == "Very hard"
    assert entries["effort"]["dtype"] == "integer" and entries["effort"]["asked"] == "after"
    assert (entries["listening_hours"]["minValue"], entries["listening_hours"]["maxValue"]) == (
        0,
        24,
    )
    assert entries["remarks"]["question"] == "Anything to tell us?"


def test_a_study_without_questions_goes_straight_from_the_last_trial_to_the_end(
    client: Client, bundle: Bundle
) -> None:
    participant = enrol(study_on(bundle, "plain", n_trials=2), "ben")
    client.post(reverse("instructions", args=[participant.token]))
    answer(participant)
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED


def test_the_preview_shows_the_question_pages_and_checks_their_answers_without_saving(
    admin_client: Client, bundle: Bundle
) -> None:
    study = _questions_study(bundle)
    index = admin_client.get(reverse("preview_index", args=[study.slug])).content.decode()
    before = reverse("preview_page", args=[study.slug, "visual", "questions-before"])
    after = reverse("preview_page", args=[study.slug, "visual", "questions-after"])
    assert before in index and after in index
    page = admin_client.get(after).content.decode()
    assert "A few last questions" in page and "5: Very hard" in page
    refused = admin_client.post(after, {"effort": "9"})
    assert refused.status_code == 400 and "effort" in refused.content.decode()
    assert admin_client.post(after, {"effort": "2", "listening_hours": "3"}).status_code == 302
    assert not Participant.objects.exists()
