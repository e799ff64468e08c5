"""Exclusion rules: each removes exactly whom it should, and the flow adds up."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.exclusions import ExclusionConfig, apply_exclusions, load_exclusion_config
from analysis.io import load_export


@pytest.fixture(scope="module")
def data(rich_export: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    export = load_export(rich_export)
    return export.trials, export.participants


def test_the_flow_adds_up_step_by_step(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    flow = apply_exclusions(*data).flow
    for prev, row in zip(flow.iloc[:-1].itertuples(), flow.iloc[1:].itertuples(), strict=True):
        assert row.participants_remaining == prev.participants_remaining - row.participants_removed
        assert row.trials_remaining == prev.trials_remaining - row.trials_removed
    assert flow["participants_removed"].iloc[1:].sum() > 0


def test_each_rule_removes_the_participants_it_describes(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    trials, people = data
    result = apply_exclusions(trials, people)
    kept = result.participants
    assert not kept["is_pilot"].any()
    assert (kept["status"] == "completed").all()
    assert not kept["screening_passed"].eq(False).any()
    failed = (kept["catch_total"] - kept["catch_correct"]) / kept["catch_total"]
    assert (failed <= 0.5).all()
    assert (result.trials["rt_ms"] >= 250).all()
    assert set(result.trials["trial_kind"]) == {"main"}
    assert set(result.trials["participant"]) <= set(kept["participant"])
    assert set(result.excluded["participant"]).isdisjoint(kept["participant"])


def test_turning_every_rule_off_keeps_everyone_with_main_trials(
    data: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    trials, people = data
    off = ExclusionConfig(
        exclude_pilot=False,
        require_complete=False,
        require_screening_pass=False,
        max_catch_fail_rate=None,
        min_rt_ms=None,
        max_fast_trial_rate=None,
    )
    result = apply_exclusions(trials, people, off)
    assert len(result.trials) == (trials["trial_kind"] == "main").sum()
    assert (
        len(result.participants)
        == trials.loc[trials["trial_kind"] == "main", "participant"].nunique()
    )


def test_a_toml_config_is_read(tmp_path: Path) -> None:
    file = tmp_path / "exclusions.toml"
    file.write_text(
        "[exclusions]\nexclude_pilot = false\nmin_rt_ms = 400\nmax_catch_fail_rate = -1\n"
    )
    config = load_exclusion_config(file)
    assert config == ExclusionConfig(exclude_pilot=False, min_rt_ms=400.0, max_catch_fail_rate=None)


def test_a_json_config_is_read(tmp_path: Path) -> None:
    file = tmp_path / "exclusions.json"
    file.write_text(json.dumps({"require_complete": False}))
    assert load_exclusion_config(file).require_complete is False


def test_it_rejects_an_unknown_rule_naming_it(tmp_path: Path) -> None:
    file = tmp_path / "exclusions.toml"
    file.write_text("[exclusions]\nmin_rt = 300\n")
    with pytest.raises(ValueError, match=r"unknown exclusion keys \['min_rt'\]"):
        load_exclusion_config(file)


def test_it_rejects_a_wrongly_typed_value(tmp_path: Path) -> None:
    file = tmp_path / "exclusions.toml"
    file.write_text("[exclusions]\nexclude_pilot = 'yes'\n")
    with pytest.raises(ValueError, match="exclude_pilot must be true or false"):
        load_exclusion_config(file)
