"""The report's faithfulness section on simulated exports with a known truth."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.report import build_report
from analysis.simulate import SimulationSpec, simulate_export
from contracts import export_format as ef

AOPC_EFFECT, KEPT_EFFECT = 0.6, 0.8  # log-odds per SD of deletion AOPC; kept vs not


def _spec(**kw: object) -> SimulationSpec:
    base: dict[str, object] = {
        "n_participants": 60,
        "n_trials": 24,
        "n_stimuli": 48,
        "faithfulness": True,
        "with_events": False,
        "seed": 7,
    }
    return SimulationSpec(**{**base, **kw})  # type: ignore[arg-type]


def _report(export: Path, out: Path) -> tuple[dict, str]:
    folder = build_report(export, out, formats=("md",), progress=False)
    return json.loads((folder / "report.json").read_text()), (folder / "report.md").read_text()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, str, Path]]:
    root = tmp_path_factory.mktemp("faith")
    out = {}
    for name, spec in (
        ("depends", _spec(aopc_effect=AOPC_EFFECT, kept_effect=KEPT_EFFECT)),
        ("independent", _spec()),
    ):
        summary, text = _report(simulate_export(root / name, spec), root / f"report-{name}")
        out[name] = (summary, text, root / f"report-{name}")
    return out


def test_it_finds_that_accuracy_depends_on_faithfulness_when_it_does(
    reports: dict[str, tuple[dict, str, Path]],
) -> None:
    summary, text, folder = reports["depends"]
    rows = {row["measure"]: row for row in summary["faithfulness"]}
    for measure, truth in (("deletion AOPC", AOPC_EFFECT), ("decision kept", KEPT_EFFECT)):
        row = rows[measure]
        assert row["lrt_p_value"] < 0.01 and row["or_ci_low"] > 1, row
        assert abs(row["estimate"] - truth) < 3 * row["se"], (row, truth)
    assert "Accuracy was higher on stimuli with a higher deletion AOPC, OR = " in summary["results"]
    assert "Accuracy was higher on stimuli with the model's decision kept" in summary["results"]
    assert "standardised across the 48 stimuli" in summary["methods"]
    table = pd.read_csv(folder / "tables" / "faithfulness_models.csv")
    assert list(table["measure"]) == ["deletion AOPC", "decision kept"]
    assert (folder / "figures" / "accuracy_by_faithfulness.png").stat().st_size > 10_000
    assert "accuracy_by_faithfulness.png" in text


def test_it_does_not_claim_a_relation_when_accuracy_does_not_depend_on_faithfulness(
    reports: dict[str, tuple[dict, str, Path]],
) -> None:
    summary, _, _ = reports["independent"]
    for row in summary["faithfulness"]:
        assert row["lrt_p_value"] > 0.05 and row["or_ci_low"] < 1 < row["or_ci_high"], row
    assert "Accuracy was higher" not in summary["results"]
    assert "Accuracy was lower" not in summary["results"]
    assert "Accuracy showed no reliable relation to the deletion AOPC" in summary["results"]
    assert "no reliable relation to whether the model's decision was kept" in summary["results"]


def _small(root: Path, name: str, **kw: object) -> Path:
    spec = _spec(n_participants=12, n_trials=10, n_stimuli=20, **kw)
    return simulate_export(root / name, spec)


def test_an_export_without_faithfulness_columns_skips_the_section_with_one_note(
    tmp_path: Path,
) -> None:
    export = _small(tmp_path, "old")
    trials = pd.read_csv(export / ef.TRIALS_FILE, dtype=str, keep_default_na=False)
    trials.drop(columns=[c for c in trials.columns if "faith_" in c]).to_csv(
        export / ef.TRIALS_FILE, index=False
    )
    summary, _ = _report(export, tmp_path / "report")
    assert summary["notes"]["faithfulness"] == [
        "skipped: the export has no faithfulness columns (faith_*)"
    ]
    assert "faithfulness" not in summary


def test_a_bundle_without_faithfulness_numbers_skips_the_section_saying_so(tmp_path: Path) -> None:
    summary, _ = _report(_small(tmp_path, "none", faithfulness=False), tmp_path / "report")
    assert summary["notes"]["faithfulness"] == [
        "skipped: no forward-simulation trial has faithfulness numbers (the bundle had none)"
    ]


def test_a_measure_without_variance_is_named_and_the_other_still_modelled(tmp_path: Path) -> None:
    export = _small(tmp_path, "flat")
    copy = Path(shutil.copytree(export, tmp_path / "flat-copy"))
    trials = pd.read_csv(copy / ef.TRIALS_FILE, dtype=str, keep_default_na=False)
    main = trials["trial_kind"] == "main"
    trials.loc[main, "faith_deletion_aopc"] = "0.3"
    trials.to_csv(copy / ef.TRIALS_FILE, index=False)
    summary, _ = _report(copy, tmp_path / "report")
    n_stimuli = trials.loc[main, "stimulus"].nunique()
    assert summary["notes"]["faithfulness"] == [
        f"deletion AOPC: not estimable: deletion AOPC does not vary across the {n_stimuli} "
        "stimuli (all 0.3)"
    ]
    assert [row["measure"] for row in summary["faithfulness"]] == ["decision kept"]
    assert np.isfinite(summary["faithfulness"][0]["estimate"])
