"""A bundle from an explicit list of files: a CSV manifest of chosen recordings, ``--split all``."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from contracts import bundle_format as bf
from explainer import bundle as eb
from explainer.cli import main
from explainer.data import load_recordings
from explainer.training import load_run
from tests.explainer.conftest import DEMO_CORPUS


def choose(tmp_path: Path, run_dir: Path) -> dict[str, list[str]]:
    """Copy two recordings of a training speaker and two of a test speaker (four digits) and
    list them in ``chosen.csv``; returns the listed paths per part."""
    run = load_run(run_dir)
    table = list(load_recordings(DEMO_CORPUS, progress=False))
    speakers = {"train": run.config["split"]["train"][0], "test": run.test_speakers[0]}
    (tmp_path / "chosen").mkdir()
    rows, listed = [], {}
    for part, digits in (("train", ("1", "2")), ("test", ("3", "4"))):
        picked = [r for r in table if r.speaker == speakers[part] and str(r.digit) in digits]
        picked = [next(r for r in picked if str(r.digit) == d) for d in digits]
        listed[part] = []
        for recording in picked:
            name = f"chosen/{recording.speaker}-{recording.path.name}"
            shutil.copy(recording.path, tmp_path / name)
            rows.append({"path": name, "label": recording.digit, "speaker": recording.speaker})
            listed[part].append(name)
    with (tmp_path / "chosen.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "speaker"])
        writer.writeheader()
        writer.writerows(rows)
    return listed


def test_a_bundle_explains_exactly_the_listed_files(own_run: Path, tmp_path: Path) -> None:
    listed = choose(tmp_path, own_run)
    args = ["bundle", "--run", str(own_run), "--data", str(tmp_path / "chosen.csv")]
    args += ["--every", "--practice", "0", "--methods", "gradient"]
    assert main([*args, "--split", "all", "--out", str(tmp_path / "all")]) == 0
    manifest = bf.read_manifest(tmp_path / "all")
    assert sorted(s["source"]["recording"] for s in manifest["stimuli"]) == sorted(
        listed["train"] + listed["test"]
    )
    assert eb.validate_bundle(tmp_path / "all") == []
    # Without --split all only the run's test speakers are candidates.
    assert main([*args, "--out", str(tmp_path / "test")]) == 0
    manifest = bf.read_manifest(tmp_path / "test")
    assert sorted(s["source"]["recording"] for s in manifest["stimuli"]) == sorted(listed["test"])
