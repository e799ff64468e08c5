"""Test accuracy per split and over splits, in the paper's format."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from explainer import run_files as rf
from explainer.cli import main
from explainer.evaluation import (
    SplitResult,
    find_runs,
    from_summary,
    paper_format,
    recompute,
    summarise,
)


def _result(arch: str, task: str, split: str, accuracy: float) -> SplitResult:
    return SplitResult(arch, task, split, 100, accuracy, "summary.json", "run")


def test_the_summary_is_the_mean_and_sample_sd_over_splits() -> None:
    accuracies = [0.95, 0.97, 0.93, 0.96, 0.94]
    results = [_result("alexnet", "digit", f"paper:{i}", a) for i, a in enumerate(accuracies)]
    results.append(_result("audionet", "sex", "paper:0", 0.9))
    rows = summarise(results)
    assert [(r["architecture"], r["task"], r["n_splits"]) for r in rows] == [
        ("alexnet", "digit", 5),
        ("audionet", "sex", 1),
    ]
    assert rows[0]["mean_accuracy"] == pytest.approx(np.mean(accuracies))
    assert rows[0]["std_accuracy"] == pytest.approx(np.std(accuracies, ddof=1))
    assert rows[1]["paper_format"] == "90.00 %"


def test_the_paper_format_gives_percent_with_two_decimals() -> None:
    assert paper_format(0.958234, 0.01491) == "95.82 % ± 1.49 %"


def test_recomputing_from_the_corpus_agrees_with_the_runs_summary(
    trained_run: Path, demo_corpus: Path, tmp_path: Path
) -> None:
    recomputed = recompute(trained_run, demo_corpus, cache_dir=tmp_path / "cache")
    recorded = from_summary(trained_run)
    assert recomputed.n_test == recorded.n_test
    assert recomputed.test_accuracy == pytest.approx(recorded.test_accuracy)


def test_it_evaluates_a_folder_of_runs_and_writes_both_csvs(
    trained_run: Path, trained_alexnet_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(trained_run, runs / "audionet-a")
    shutil.copytree(trained_alexnet_run, runs / "alexnet-a")
    assert main(["evaluate", str(runs), "--out", str(tmp_path / "eval")]) == 0
    table = capsys.readouterr().out
    accuracy = rf.read_json(trained_run / rf.SUMMARY_NAME)["test_accuracy"]
    assert f"audionet  digit       1  {100 * accuracy:.2f} %" in table
    splits = rf.read_csv(tmp_path / "eval" / "evaluation_splits.csv")
    summary = rf.read_csv(tmp_path / "eval" / "evaluation_summary.csv")
    assert sorted(r["architecture"] for r in splits) == ["alexnet", "audionet"]
    assert (
        float(next(r for r in splits if r["architecture"] == "audionet")["test_accuracy"])
        == accuracy
    )
    assert len(summary) == 2


def test_it_finds_runs_below_a_folder_and_rejects_folders_without_any(
    trained_run: Path, tmp_path: Path, capsys
) -> None:
    assert find_runs([trained_run.parent]) == [trained_run]
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "holds no trained run" in capsys.readouterr().err


def test_an_unfinished_run_needs_the_corpus_to_be_evaluated(
    trained_run: Path, tmp_path: Path, capsys
) -> None:
    run = shutil.copytree(trained_run, tmp_path / "run")
    (run / rf.SUMMARY_NAME).unlink()
    assert main(["evaluate", str(run)]) == 2
    assert "did not finish" in capsys.readouterr().err
