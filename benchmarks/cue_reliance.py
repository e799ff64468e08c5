"""Planted-cue reliance of a cued and a control AudioNet, and the heard-label baselines of their bundle.

Writes a planted-cue copy of the demo corpus (``python -m explainer cue``), trains the
cued model on it and the control model on the clean corpus with the same recipe and
split, reports ``cue-eval`` for both on the probe corpus, and writes the compared bundle
(``bundle --compare-run``) to read its ``heard_label_baseline``. Everything runs through
the command line, as a researcher would run it.

``--quick`` uses the test suite's small recipe (tests/explainer/conftest.py: a loud
+6 dB tone, width 0.25, 10 epochs); the default uses the demo preset and the demo's cue
(the Makefile's ``DEMO_CUE``: 0 dB, 150 ms).

Usage: python benchmarks/cue_reliance.py [--quick] [--out DIR]
Prints one JSON object on stdout: ``cued`` and ``control`` (clean_accuracy,
cue_following_share, spoken_following_share, relevance_in_cue, cue_area_share),
``heard_label_baseline`` (per task), ``seconds`` and ``machine``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from explainer.cli import main  # noqa: E402

DEMO = REPO / "fixtures" / "demo_corpus"
CUE = {
    "quick": [
        "--classes",
        "3,7",
        "--freq-hz",
        "3200,2400",
        "--level-db",
        "6",
        "--duration-ms",
        "150",
    ],
    "demo": [
        "--classes",
        "3,7",
        "--freq-hz",
        "3200,2400",
        "--level-db",
        "0",
        "--duration-ms",
        "150",
    ],
}
RECIPE = {
    "quick": ["--width", "0.25", "--epochs", "10", "--placements", "2"],
    "demo": ["--preset", "demo"],
}


def _cli(args: list[str]) -> str:
    """Run one explainer command; its stdout (stderr goes to ours, for progress)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(args)
    if status != 0:
        raise SystemExit(f"python -m explainer {' '.join(args)} failed ({status})")
    return out.getvalue()


def run(root: Path, kind: str) -> dict[str, object]:
    cue = root / "cue"
    _cli(["cue", "--data", str(DEMO), "--out", str(cue), *CUE[kind], "--force"])
    result: dict[str, object] = {"cue_args": CUE[kind], "recipe": RECIPE[kind]}
    for role, data in (("cued", cue / "train"), ("control", DEMO)):
        args = ["train", "--data", str(data), "--out", str(root / role), "--quiet", "--force"]
        _cli(
            [
                *args,
                "--split",
                str(cue / "split.json"),
                "--cache-dir",
                str(root / "cache"),
                *RECIPE[kind],
            ]
        )
        report = json.loads(
            _cli(["cue-eval", "--run", str(root / role), "--data", str(cue / "probe")])
        )
        result[role] = {k: v for k, v in report.items() if k not in ("cue", "run", "probe")}
    bundle = root / "bundle"
    args = ["bundle", "--run", str(root / "cued"), "--compare-run", str(root / "control")]
    _cli(
        [*args, "--data", str(cue / "probe"), "--out", str(bundle), "--n", "40", "--practice", "4"]
    )
    manifest = json.loads((bundle / "manifest.json").read_text())
    result["heard_label_baseline"] = {
        t: e["value"] for t, e in manifest["heard_label_baseline"].items()
    }
    result["bundle_decision_basis"] = _count(manifest, "decision_basis")
    return result


def _count(manifest: dict, key: str) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for stim in manifest["stimuli"]:
        if not stim["practice"]:
            model = counts.setdefault(stim.get("model_id", "cued"), {})
            model[stim[key]] = model.get(stim[key], 0) + 1
    return counts


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the test suite's small recipe")
    parser.add_argument("--out", type=Path, help="keep the corpora, runs and bundle here")
    args = parser.parse_args()
    kind = "quick" if args.quick else "demo"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.out or Path(tmp), kind)
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load": os.getloadavg(),
    }
    print(json.dumps(result, indent=1, sort_keys=True))
