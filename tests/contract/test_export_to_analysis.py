"""Contract: a real Django export is read by ``analysis`` without a single renamed column.

Sessions are produced by the participant services the pages use (answers with audio
event logs, practice and catch trials, ratings and confidence, a declined and an
unfinished session, a pilot session), exported by ``studyapp`` and read by
``analysis.load_export``; the numbers ``analysis`` computes match the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.db import transaction
from django.test import override_settings

from analysis import accuracy_by_condition, load_export, main_trials
from contracts import export_format as fmt
from studyapp.models import AudioEvent, Participant, Response, Study
from studyapp.services.bundles import bundle_import
from studyapp.services.exports import export_write
from studyapp.services.participants import participant_consent, participant_enroll
from tests.studyapp.research_helpers import (
    METHODS,
    answer,
    bundle_folder,
    complete,
    enrol,
    study_on,
)

# Marked so pytest-django creates the test database the module fixture writes into.
pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Exported:
    """An export folder and what the database held when it was written."""

    slug: str
    folder: Path
    n_responses: int
    n_participants: int
    n_events: int
    per_condition: dict[str, tuple[int, int]]  # condition -> (main answers, correct)


def _run_study(study: Study) -> None:
    for i in range(6):
        complete(study, f"done{i}", accuracy=0.4 + 0.1 * i, seed=i)
    unfinished = enrol(study, "unfinished")
    answer(unfinished, n=3, seed=99)
    declined, _ = participant_enroll(study=study, recruitment={"participant_label": "no"})
    participant_consent(participant=declined, agree=False)


def _snapshot(study: Study, folder: Path) -> Exported:
    live = Response.objects.filter(
        trial__participant__study=study, trial__participant__is_pilot=False
    )
    per_condition = {}
    for condition in study.conditions.all():
        main = live.filter(trial__condition=condition, trial__kind="main")
        per_condition[condition.name] = (main.count(), main.filter(answer_correct=True).count())
    return Exported(
        study.slug,
        folder,
        live.count(),
        Participant.objects.filter(study=study, is_pilot=False).count(),
        AudioEvent.objects.filter(
            trial__participant__study=study, trial__participant__is_pilot=False
        ).count(),
        per_condition,
    )


@pytest.fixture(scope="module")
def exported(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Exported:
    """One study run and exported for the whole module; its rows are rolled back afterwards."""
    root = tmp_path_factory.mktemp("contract")
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=root / "media", UPLOAD_ROOT=root / "uploads"),
    ):
        with transaction.atomic():
            bundle = bundle_import(bundle_dir=bundle_folder(n=30, methods=METHODS))
            study = study_on(
                bundle,
                slug="contract",
                status=Study.Status.PILOT,
                methods=METHODS,
                method_assignment="within",
                n_trials=8,
                n_practice=1,
                n_catch=1,
                ask_rating=True,
                ask_confidence=True,
            )
            complete(study, "pilot-person")
            Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)
            study.refresh_from_db()
            _run_study(study)
            folder = export_write(
                study=study, out_dir=root / "export", include_recruitment_ids=True
            ).out_dir
            snapshot = _snapshot(study, folder)
            transaction.set_rollback(True)
    return snapshot


def test_analysis_reads_a_real_export_with_every_column_under_its_contract_name(
    exported: Exported,
) -> None:
    folder = exported.folder
    export = load_export(folder, events=True)
    assert list(export.trials.columns) == fmt.column_names(fmt.TRIALS_FILE)
    assert list(export.participants.columns) == fmt.column_names(
        fmt.PARTICIPANTS_FILE, with_recruitment_ids=True
    )
    assert list(export.events.columns) == fmt.column_names(fmt.EVENTS_FILE)
    assert export.study == exported.slug
    assert (
        json.loads((folder / fmt.CODEBOOK_FILE).read_text())["export_version"] == fmt.EXPORT_VERSION
    )


def test_every_row_analysis_reads_is_a_row_of_the_database(exported: Exported) -> None:
    export = load_export(exported.folder, events=True)
    assert len(export.trials) == exported.n_responses == 6 * 10 + 3
    assert len(export.participants) == exported.n_participants == 8
    assert len(export.events) == exported.n_events > len(export.trials)
    assert not export.trials["is_pilot"].any()
    statuses = export.participants.set_index("participant_label")["status"].to_dict()
    assert statuses["unfinished"] == "in_progress" and statuses["no"] == "declined"
    assert set(export.trials["trial_kind"]) == {"practice", "main", "catch"}
    assert set(export.trials["method"]) == set(METHODS)


def test_accuracy_computed_by_analysis_matches_the_database(exported: Exported) -> None:
    trials = main_trials(load_export(exported.folder).trials)
    table = accuracy_by_condition(trials)
    overall = table[table["model_correct"] == "all"].set_index("condition")
    assert set(overall.index) == set(exported.per_condition) and len(overall) == 4
    for name, (n, correct) in exported.per_condition.items():
        assert (overall.loc[name, "n_trials"], overall.loc[name, "n_correct"]) == (n, correct)


def test_types_survive_the_round_trip(exported: Exported) -> None:
    export = load_export(exported.folder, events=True)
    trials = export.trials
    assert trials["answer_correct"].dtype == bool and trials["model_correct"].dtype == bool
    assert str(trials["answered_at"].dt.tz) == "UTC"
    assert pd.api.types.is_numeric_dtype(trials["rt_ms"]) and trials["rt_ms"].notna().all()
    assert (
        trials["rating"].dropna().between(1, 7).all()
        and trials["confidence"].dropna().between(0, 100).all()
    )
    completed = export.participants[export.participants["status"] == "completed"]
    assert completed["duration_s"].notna().all() and (completed["duration_s"] >= 0).all()
