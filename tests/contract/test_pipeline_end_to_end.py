"""The whole pipeline, as a researcher runs it, with the numbers checked at each step.

corpus subset -> train -> bundle -> import -> simulated participants -> export -> report.
The explainer and the analysis run as separate processes through their command lines
(as in the README); the study site runs in-process on the test database, and its bots
wait out each trial's audio by moving the server's clock on rather than sleeping
(``bots_listen_on_the_server_clock``): the server sees the same listening times.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from contracts import export_format as fmt
from contracts.bundle_format import check_bundle_files, read_manifest
from studyapp.models import Participant, Response, Stimulus, Study

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "fixtures" / "demo_corpus"
N_PARTICIPANTS = 6
N_TRIALS = 8


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train a small AudioNet on a subset of the demo corpus and write a bundle from it."""
    work = tmp_path_factory.mktemp("pipeline")
    run = work / "run"
    run_cli(
        "-m",
        "explainer",
        "train",
        "--data",
        str(CORPUS),
        "--model",
        "audionet",
        "--task",
        "digit",
        "--out",
        str(run),
        "--subset",
        "3",
        "--width",
        "0.125",
        "--epochs",
        "4",
        "--quiet",
        "--cache-dir",
        str(work / "cache"),
        "--workers",
        "1",
    )
    for name in ("model.pt", "config.json", "metrics.csv", "summary.json"):
        assert (run / name).is_file(), f"run folder lacks {name}"
    out = work / "bundle"
    run_cli(
        "-m",
        "explainer",
        "bundle",
        "--run",
        str(run),
        "--data",
        str(CORPUS),
        "--out",
        str(out),
        "--n",
        "20",
        "--seed",
        "0",
        "--practice",
        "2",
        "--shortfall",
        "fill",  # a small model on a small corpus: some cells have too few wrong decisions
    )
    return out


def test_bundle_files_exist_and_match_their_checksums(bundle_dir: Path) -> None:
    manifest = read_manifest(bundle_dir)
    assert len(manifest["stimuli"]) >= 20
    assert check_bundle_files(bundle_dir, manifest) == []
    assert manifest["model"]["architecture"] == "audionet" and manifest["model"]["task"] == "digit"
    run_cli("-m", "explainer", "bundle", "--validate", str(bundle_dir))


@pytest.mark.django_db
@pytest.mark.usefixtures("bots_listen_on_the_server_clock")
def test_the_pipeline_from_bundle_to_report_keeps_every_answer_and_every_number(
    bundle_dir: Path, media_root: Path, tmp_path: Path
) -> None:
    manifest = read_manifest(bundle_dir)
    call_command("import_bundle", str(bundle_dir), study="e2e", trials=N_TRIALS)
    assert Stimulus.objects.count() == len(manifest["stimuli"])
    study = Study.objects.get(slug="e2e")

    call_command("simulate_participants", study="e2e", n=N_PARTICIPANTS, accuracy=0.75, seed=3)
    assert (
        Participant.objects.filter(study=study, status=Participant.Status.COMPLETED).count()
        == N_PARTICIPANTS
    )
    stored = {
        (r.trial.participant.pseudonym, r.trial.position): r
        for r in Response.objects.select_related("trial__participant")
    }

    export = tmp_path / "export"
    call_command("export_responses", study="e2e", out=str(export))
    with open(export / fmt.TRIALS_FILE, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    keys = [(row["participant"], int(row["trial_position"])) for row in rows]
    assert sorted(keys) == sorted(stored), "every stored answer must be exported exactly once"
    for row in rows:
        response = stored[(row["participant"], int(row["trial_position"]))]
        assert row["answer"] == response.answer
        assert row["answer_correct"] == ("true" if response.answer_correct else "false")

    report = tmp_path / "report"
    run_cli("-m", "analysis", "report", str(export), "--out", str(report))
    assert (report / "report.html").is_file()
    assert list((report / "figures").glob("*.png")), "the report must carry at least one figure"
    _check_report_accuracy(report, rows)


def _check_report_accuracy(report: Path, rows: list[dict[str, str]]) -> None:
    """The report's per-condition accuracy equals a hand count over the main trials."""
    main = [r for r in rows if r["trial_kind"] == "main"]
    with open(
        report / "tables" / "accuracy_by_condition.csv", newline="", encoding="utf-8"
    ) as handle:
        table = [r for r in csv.DictReader(handle) if r["model_correct"] == "all"]
    assert (
        {r["condition"] for r in table} == {r["condition"] for r in main} == {"visual", "audible"}
    )
    for entry in table:
        mine = [r for r in main if r["condition"] == entry["condition"]]
        correct = sum(r["answer_correct"] == "true" for r in mine)
        assert int(entry["n_trials"]) == len(mine)
        assert int(entry["n_correct"]) == correct
        assert float(entry["accuracy"]) == pytest.approx(correct / len(mine))
    summary = json.loads((report / "report.json").read_text(encoding="utf-8"))
    assert summary["n_main_trials"] == len(main)
