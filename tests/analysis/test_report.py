"""python -m analysis report: the files, the numbers, the small-study and bad-input cases."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from analysis.__main__ import main
from contracts import export_format as ef

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def report(rich_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "rep"
    done = _cli("report", rich_export, "--out", out, "--format", "both")
    assert done.returncode == 0, done.stderr
    assert "report:" in done.stderr  # the progress bar goes to stderr
    return out


def test_the_report_writes_html_markdown_tables_and_figures(report: Path) -> None:
    for name in ("report.html", "report.md", "report.json"):
        assert (report / name).stat().st_size > 1000
    figures = {p.name for p in (report / "figures").glob("*.png")}
    assert {
        "accuracy_by_condition.png",
        "rt_distributions.png",
        "stimulus_accuracy.png",
        "confidence_calibration.png",
        "exclusion_flow.png",
    } <= figures
    for png in (report / "figures").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tables = {p.stem for p in (report / "tables").glob("*.csv")}
    assert {
        "accuracy_by_condition",
        "participant_level_tests",
        "gee_contrasts",
        "glmm_contrasts",
        "signal_detection",
        "log_rt_model",
        "rating_summary",
        "calibration_bins",
        "stimulus_difficulty",
        "exclusion_flow",
    } <= tables
    page = (report / "report.html").read_text()
    assert "figures/accuracy_by_condition.png" in page and "tables/glmm_contrasts.csv" in page


def test_the_methods_paragraph_names_the_software_versions(report: Path) -> None:
    import statsmodels

    summary = json.loads((report / "report.json").read_text())
    assert f"statsmodels {statsmodels.__version__}" in summary["methods"]
    assert "Laplace" in summary["methods"] and "Wilson" in summary["methods"]
    assert summary["software"]["statsmodels"] == statsmodels.__version__


def test_the_reported_accuracies_match_the_export_counted_by_hand(
    rich_export: Path, report: Path
) -> None:
    summary = json.loads((report / "report.json").read_text())
    with (report / "tables" / "excluded_participants.csv").open() as handle:
        excluded = {row["participant"] for row in csv.DictReader(handle)}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with (rich_export / ef.TRIALS_FILE).open() as handle:
        for row in csv.DictReader(handle):
            keep = (
                row["trial_kind"] == "main"
                and row["task"] == "forward"
                and row["participant"] not in excluded
                and float(row["rt_ms"]) >= 250
            )
            if keep:
                counts[row["condition"]][0] += row["answer"] == row["predicted_label"]
                counts[row["condition"]][1] += 1
    for entry in summary["accuracy"]:
        correct, total = counts[entry["condition"]]
        assert entry["n_trials"] == total
        assert entry["accuracy"] == pytest.approx(correct / total)


def test_the_exclusion_flow_is_reported(report: Path) -> None:
    summary = json.loads((report / "report.json").read_text())
    rules = [step["rule"] for step in summary["exclusion_flow"]]
    assert "pilot data" in rules and "failed headphone screen" in rules
    assert summary["n_participants"] == summary["exclusion_flow"][-1]["participants_remaining"]


def test_a_six_participant_study_reports_without_crashing(
    tiny_export: Path, tmp_path: Path
) -> None:
    assert (
        main(
            [
                "report",
                str(tiny_export),
                "--out",
                str(tmp_path / "rep"),
                "--quiet",
                "--format",
                "md",
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert len(summary["accuracy"]) == 2
    assert (tmp_path / "rep" / "report.md").exists()


def test_too_little_data_for_a_model_says_not_enough_data(
    tiny_export: Path, tmp_path: Path
) -> None:
    config = tmp_path / "strict.toml"
    config.write_text("[exclusions]\nmin_rt_ms = 3000\nmax_fast_trial_rate = 0.3\n")
    assert (
        main(
            [
                "report",
                str(tiny_export),
                "--out",
                str(tmp_path / "rep"),
                "--quiet",
                "--config",
                str(config),
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "rep" / "report.json").read_text())
    text = json.dumps(summary["notes"])
    assert "not estimable" in text
    assert summary["exclusions"]["min_rt_ms"] == 3000


def test_a_missing_column_is_one_line_and_exit_2(rich_export: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(rich_export, broken)
    lines = (broken / ef.TRIALS_FILE).read_text().splitlines()
    (broken / ef.TRIALS_FILE).write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    done = _cli("report", broken, "--out", tmp_path / "rep", "--quiet")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: trials.csv: missing column 'answered_at'"
    assert not (tmp_path / "rep").exists()


def test_an_unknown_export_version_is_one_line_and_exit_2(
    rich_export: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "v2"
    shutil.copytree(rich_export, broken)
    book = json.loads((broken / ef.CODEBOOK_FILE).read_text())
    book["export_version"] = 2
    (broken / ef.CODEBOOK_FILE).write_text(json.dumps(book))
    done = _cli("report", broken, "--out", tmp_path / "rep", "--quiet")
    assert done.returncode == 2 and "unknown export version 2" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_export_without_main_trials_is_an_empty_study(
    rich_export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "practice-only"
    shutil.copytree(rich_export, broken)
    with (broken / ef.TRIALS_FILE).open() as handle:
        rows = [row for row in csv.reader(handle)]
    kind = rows[0].index("trial_kind")
    with (broken / ef.TRIALS_FILE).open("w", newline="") as handle:
        csv.writer(handle).writerows([rows[0], *[r for r in rows[1:] if r[kind] == "practice"]])
    assert main(["report", str(broken), "--out", str(tmp_path / "rep"), "--quiet"]) == 2
    assert "empty study" in capsys.readouterr().err
    assert not (tmp_path / "rep").exists()
    assert not list(tmp_path.glob(".rep.*"))


@pytest.mark.parametrize(
    "args", [["report"], ["report", "x", "--out", "y", "--format", "pdf"], ["frobnicate"]]
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str]) -> None:
    done = _cli(*args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error:")


def test_it_will_not_overwrite_a_folder_that_is_not_a_report(
    rich_export: Path, tmp_path: Path
) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("do not delete")
    done = _cli("report", rich_export, "--out", precious, "--quiet")
    assert done.returncode == 2 and "not a previous report" in done.stderr
    assert (precious / "thesis.tex").read_text() == "do not delete"


def test_power_command_writes_a_table_and_figure(tmp_path: Path) -> None:
    done = _cli(
        "power",
        "--participants",
        "20,60",
        "--trials",
        "16",
        "--difference",
        "0.15",
        "--method",
        "welch",
        "--sims",
        "20",
        "--seed",
        "4",
        "--out",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "power.csv").exists() and (tmp_path / "power.png").exists()
    assert "power" in done.stdout
