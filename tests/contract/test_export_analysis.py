"""Export v1 round trip from the analysis side: write with the contract's columns, read back."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from analysis.io import ExportError, load_export
from analysis.simulate import SimulationSpec, simulate_export
from contracts import export_format as ef


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = SimulationSpec(
        n_participants=10,
        n_trials=8,
        n_stimuli=16,
        verification_fraction=0.3,
        inattentive_rate=0.2,
        incomplete_rate=0.2,
        declined_rate=0.1,
        pilot_fraction=0.1,
        screen_fail_rate=0.2,
        fast_rate=0.1,
        seed=3,
    )
    return simulate_export(tmp_path_factory.mktemp("export") / "exp", spec)


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def test_the_simulator_writes_exactly_the_contract_columns_in_order(export_dir: Path) -> None:
    for name in (ef.TRIALS_FILE, ef.PARTICIPANTS_FILE, ef.EVENTS_FILE):
        assert _header(export_dir / name) == ef.column_names(name)


def test_the_codebook_is_the_contract_codebook(export_dir: Path) -> None:
    book = json.loads((export_dir / ef.CODEBOOK_FILE).read_text())
    assert book == ef.codebook(study="simulated", title=book["name"].rsplit(" (", 1)[0])
    assert book["export_version"] == ef.EXPORT_VERSION


def test_booleans_are_true_false_and_nulls_are_empty_strings(export_dir: Path) -> None:
    with (export_dir / ef.TRIALS_FILE).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    bools = [c.name for c in ef.TRIAL_COLUMNS if c.dtype == "boolean" and not c.nullable]
    assert {row[name] for row in rows for name in bools} == {"true", "false"}
    maybe = [c.name for c in ef.TRIAL_COLUMNS if c.dtype == "boolean" and c.nullable]
    assert maybe and {row[name] for row in rows for name in maybe} <= {"true", "false", ""}
    practice = [row for row in rows if row["trial_kind"] == "practice"]
    assert practice and all(row["rating"] == "" for row in practice)
    assert all(row["answered_at"].endswith("Z") for row in rows)


def test_every_value_reads_back_with_the_type_the_contract_gives_it(export_dir: Path) -> None:
    export = load_export(export_dir, events=True)
    assert export.trials["answer_correct"].dtype == bool
    assert str(export.trials["answered_at"].dt.tz) == "UTC"
    for column in ef.TRIAL_COLUMNS:
        if column.levels:
            assert set(export.trials[column.name]) <= set(column.levels)
    assert set(export.trials["trial_kind"]) == {"practice", "main", "catch"}
    assert set(export.trials["task"]) == {"forward", "verification"}
    assert export.trials["rating"].dropna().between(1, 7).all()
    assert export.trials["confidence"].dropna().between(0, 100).all()
    assert len(export.events) > len(export.trials)


def test_forward_correctness_means_the_answer_equals_the_models_prediction(
    export_dir: Path,
) -> None:
    trials = load_export(export_dir).trials
    forward = trials[(trials["task"] == "forward") & (trials["trial_kind"] == "main")]
    assert ((forward["answer"] == forward["predicted_label"]) == forward["answer_correct"]).all()


def test_a_column_missing_from_a_real_export_is_named(export_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in (ef.PARTICIPANTS_FILE, ef.EVENTS_FILE, ef.CODEBOOK_FILE):
        (broken / name).write_bytes((export_dir / name).read_bytes())
    with (export_dir / ef.TRIALS_FILE).open(newline="", encoding="utf-8") as src:
        rows = [row[:-1] for row in csv.reader(src)]
    with (broken / ef.TRIALS_FILE).open("w", newline="", encoding="utf-8") as dst:
        csv.writer(dst).writerows(rows)
    with pytest.raises(ExportError, match="trials.csv: missing column 'answered_at'"):
        load_export(broken)
