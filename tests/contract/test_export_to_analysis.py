"""Contract: a real Django export is read by ``analysis`` without a single renamed column.

Sessions are produced by the participant services the pages use (answers with audio
event logs, practice and catch trials, ratings and confidence, a declined and an
unfinished session, a pilot session), exported by ``studyapp`` and read by
``analysis.load_export``; the numbers ``analysis`` computes match the database.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis import accuracy_by_condition, load_export, main_trials
from studyapp import export_format as fmt
from studyapp.models import AudioEvent, Participant, Response, Study
from studyapp.services.exports import export_write
from studyapp.services.participants import participant_consent, participant_enroll
from tests.studyapp.research_helpers import METHODS, answer, bundle_with, complete, enrol, study_on

pytestmark = pytest.mark.django_db


def _run_study(study: Study) -> None:
    for i in range(6):
        complete(study, f"done{i}", accuracy=0.4 + 0.1 * i, seed=i)
    unfinished = enrol(study, "unfinished")
    answer(unfinished, n=3, seed=99)
    declined, _ = participant_enroll(study=study, recruitment={"participant_label": "no"})
    participant_consent(participant=declined, agree=False)


@pytest.fixture
def exported(media_root: Path, tmp_path: Path) -> tuple[Study, Path]:
    bundle = bundle_with(tmp_path, n=30, methods=METHODS)
    study = study_on(bundle, slug="contract", status=Study.Status.PILOT, methods=METHODS, method_assignment="within",
                     n_trials=8, n_practice=1, n_catch=1, ask_rating=True, ask_confidence=True)
    complete(study, "pilot-person")
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)
    study.refresh_from_db()
    _run_study(study)
    return study, export_write(study=study, out_dir=tmp_path / "export", include_recruitment_ids=True).out_dir


def test_analysis_reads_a_real_export_with_every_column_under_its_contract_name(exported: tuple[Study, Path]) -> None:
    study, folder = exported
    export = load_export(folder, events=True)
    assert list(export.trials.columns) == fmt.column_names(fmt.TRIALS_FILE)
    assert list(export.participants.columns) == fmt.column_names(fmt.PARTICIPANTS_FILE, with_recruitment_ids=True)
    assert list(export.events.columns) == fmt.column_names(fmt.EVENTS_FILE)
    assert export.study == study.slug
    assert json.loads((folder / fmt.CODEBOOK_FILE).read_text())["export_version"] == fmt.EXPORT_VERSION


def test_every_row_analysis_reads_is_a_row_of_the_database(exported: tuple[Study, Path]) -> None:
    study, folder = exported
    export = load_export(folder, events=True)
    live = Response.objects.filter(trial__participant__study=study, trial__participant__is_pilot=False)
    assert len(export.trials) == live.count() == 6 * 10 + 3
    assert len(export.participants) == Participant.objects.filter(study=study, is_pilot=False).count() == 8
    assert len(export.events) == AudioEvent.objects.filter(trial__participant__is_pilot=False).count()
    assert not export.trials["is_pilot"].any()
    statuses = export.participants.set_index("participant_label")["status"].to_dict()
    assert statuses["unfinished"] == "in_progress" and statuses["no"] == "declined"
    assert set(export.trials["trial_kind"]) == {"practice", "main", "catch"}
    assert set(export.trials["method"]) == set(METHODS)


def test_accuracy_computed_by_analysis_matches_the_database(exported: tuple[Study, Path]) -> None:
    study, folder = exported
    trials = main_trials(load_export(folder).trials)
    table = accuracy_by_condition(trials)
    overall = table[table["model_correct"] == "all"].set_index("condition")
    for condition in study.conditions.all():
        answers = Response.objects.filter(trial__condition=condition, trial__kind="main",
                                          trial__participant__is_pilot=False)
        row = overall.loc[condition.name]
        assert (row["n_trials"], row["n_correct"]) == (answers.count(), answers.filter(answer_correct=True).count())


def test_types_survive_the_round_trip(exported: tuple[Study, Path]) -> None:
    _, folder = exported
    export = load_export(folder, events=True)
    trials = export.trials
    assert trials["answer_correct"].dtype == bool and trials["model_correct"].dtype == bool
    assert str(trials["answered_at"].dt.tz) == "UTC"
    assert pd.api.types.is_numeric_dtype(trials["rt_ms"]) and trials["rt_ms"].notna().all()
    assert trials["rating"].dropna().between(1, 7).all() and trials["confidence"].dropna().between(0, 100).all()
    completed = export.participants[export.participants["status"] == "completed"]
    assert completed["duration_s"].notna().all() and (completed["duration_s"] >= 0).all()
