"""Reading an export: everything wrong with it is named up front."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis.io import ExportError, load_export, main_trials, write_export
from contracts import export_format as ef


@pytest.fixture()
def copy(rich_export: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(rich_export, target)
    return target


def _edit_csv(path: Path, column: str, row: int, value: str) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row, column] = value
    frame.to_csv(path, index=False)


def test_it_reads_the_simulated_export_with_contract_types(rich_export: Path) -> None:
    export = load_export(rich_export)
    assert export.study == "simulated"
    assert export.trials["trial_position"].dtype == "int64"
    assert export.participants["screening_passed"].dtype == "boolean"
    assert list(export.events.columns) == ef.column_names(ef.EVENTS_FILE)


def test_it_rejects_a_malformed_boolean_naming_file_column_and_line(copy: Path) -> None:
    _edit_csv(copy / ef.TRIALS_FILE, "answer_correct", 4, "yes")
    with pytest.raises(
        ExportError,
        match=r"trials.csv: column 'answer_correct' line 6: 'yes' is not 'true' or 'false'",
    ):
        load_export(copy)


def test_it_rejects_a_number_that_is_not_a_number(copy: Path) -> None:
    _edit_csv(copy / ef.TRIALS_FILE, "rt_ms", 0, "fast")
    with pytest.raises(ExportError, match=r"column 'rt_ms' line 2: 'fast' is not a number"):
        load_export(copy)


def test_it_rejects_a_fraction_in_an_integer_column(copy: Path) -> None:
    _edit_csv(copy / ef.TRIALS_FILE, "trial_position", 2, "2.5")
    with pytest.raises(ExportError, match=r"'trial_position' line 4: '2.5' is not an integer"):
        load_export(copy)


def test_it_rejects_a_level_outside_the_contract(copy: Path) -> None:
    _edit_csv(copy / ef.TRIALS_FILE, "modality", 3, "smell")
    with pytest.raises(ExportError, match=r"'modality' line 5: 'smell' is not one of"):
        load_export(copy)


def test_it_rejects_an_empty_required_value(copy: Path) -> None:
    _edit_csv(copy / ef.PARTICIPANTS_FILE, "seed", 2, "")
    with pytest.raises(ExportError, match=r"participants.csv: column 'seed' line 4"):
        load_export(copy)


def test_it_rejects_a_bad_datetime(copy: Path) -> None:
    _edit_csv(copy / ef.TRIALS_FILE, "answered_at", 1, "yesterday")
    with pytest.raises(
        ExportError, match=r"'answered_at' line 3: 'yesterday' is not an ISO 8601 datetime"
    ):
        load_export(copy)


def test_it_rejects_an_unknown_export_version(copy: Path) -> None:
    book = json.loads((copy / ef.CODEBOOK_FILE).read_text())
    book["export_version"] = 99
    (copy / ef.CODEBOOK_FILE).write_text(json.dumps(book))
    with pytest.raises(ExportError, match="unknown export version 99"):
        load_export(copy)


def test_it_rejects_a_missing_file(copy: Path) -> None:
    (copy / ef.EVENTS_FILE).unlink()
    with pytest.raises(ExportError, match="events.csv: missing file"):
        load_export(copy)


def test_it_rejects_an_empty_study(copy: Path) -> None:
    header = (copy / ef.TRIALS_FILE).read_text().splitlines()[0]
    (copy / ef.TRIALS_FILE).write_text(header + "\n")
    with pytest.raises(ExportError, match="empty study"):
        load_export(copy)


def test_it_rejects_trials_of_an_unknown_participant(copy: Path) -> None:
    _edit_csv(copy / ef.TRIALS_FILE, "participant", 0, "ghost")
    with pytest.raises(ExportError, match="participant 'ghost' is not in participants.csv"):
        load_export(copy)


def test_extra_columns_from_a_newer_additive_contract_are_kept(copy: Path) -> None:
    frame = pd.read_csv(copy / ef.TRIALS_FILE, dtype=str, keep_default_na=False)
    frame["future_column"] = "x"
    frame.to_csv(copy / ef.TRIALS_FILE, index=False)
    assert (load_export(copy).trials["future_column"] == "x").all()


def test_main_trials_drops_practice_and_catch(rich_export: Path) -> None:
    trials = load_export(rich_export).trials
    main = main_trials(trials)
    assert set(main["trial_kind"]) == {"main"}
    assert len(main) == (trials["trial_kind"] == "main").sum()


def test_writing_refuses_columns_the_contract_does_not_have(
    rich_export: Path, tmp_path: Path
) -> None:
    export = load_export(rich_export, events=True)
    with pytest.raises(ValueError, match="columns differ from the contract"):
        write_export(
            tmp_path / "out",
            trials=export.trials.drop(columns="rating"),
            participants=export.participants,
            events=export.events,
            study="s",
            title="t",
        )
    assert not (tmp_path / "out").exists()
    assert not any(p.name.startswith(".out.") for p in tmp_path.iterdir())


def test_a_written_export_reads_back_identically(rich_export: Path, tmp_path: Path) -> None:
    export = load_export(rich_export, events=True)
    write_export(
        tmp_path / "again",
        trials=export.trials,
        participants=export.participants,
        events=export.events,
        study=export.study,
        title="again",
    )
    again = load_export(tmp_path / "again", events=True)
    pd.testing.assert_frame_equal(again.trials, export.trials)
    pd.testing.assert_frame_equal(again.participants, export.participants)
