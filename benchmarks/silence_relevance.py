"""Spectrogram relevance on silence: how much |relevance| lands on the -80 dB floor.

Trains AlexNet on the demo corpus twice with one recipe and one split, once on the
paper's input (dB below the maximum: silence is -80) and once on
``--input spectrogram-above-floor`` (dB above the input's floor: silence is 0), then
explains the held-out speakers' clips with each LRP composite and gradient x input and
reports, per input and method, the mean share of |relevance| on floor bins (bins the
input holds at the floor; most of them lie outside the speech), with both runs' test
accuracy. The share of floor bins in the inputs is reported too, as the share a method
blind to the input would give them.

Usage: python benchmarks/silence_relevance.py [--quick] [--clips N]
Prints one JSON object on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from explainer.cli import main as explainer_main  # noqa: E402
from explainer.data import load_recordings  # noqa: E402
from explainer.relevance import explain  # noqa: E402
from explainer.training import load_run  # noqa: E402

DEMO = REPO / "fixtures" / "demo_corpus"
INPUTS = ("spectrogram", "spectrogram-above-floor")
METHODS = (
    "lrp-epsilon-plus-flat",
    "lrp-epsilon-gamma-box",
    "lrp-alpha2-beta1",
    "lrp-epsilon",
    "gradient-x-input",
)


def train(input_name: str, out: Path, quick: bool) -> float:
    """Train AlexNet (demo preset) on the demo corpus with ``input_name``; seconds taken."""
    extra = ["--width", "0.125", "--epochs", "4", "--placements", "2"] if quick else []
    start = time.perf_counter()
    status = explainer_main(
        ["train", "--data", str(DEMO), "--model", "alexnet", "--input", input_name,
         "--out", str(out), "--no-cache", "--workers", "1", "--quiet", *extra]
    )  # fmt: skip
    if status != 0:
        raise SystemExit(f"training on {input_name} failed ({status})")
    return time.perf_counter() - start


def floor_shares(run_dir: Path, n_clips: int) -> dict[str, float]:
    """Per method: mean share of |relevance| on the input's floor bins over ``n_clips`` test clips."""
    run = load_run(run_dir)
    table = list(load_recordings(DEMO, progress=False).where(speakers=run.test_speakers))
    step = max(1, len(table) // n_clips)
    inputs = np.stack([run.prepare(r.path, r.relpath)[1] for r in table[::step][:n_clips]])
    x = torch.from_numpy(inputs).unsqueeze(1)
    floor = x == x.reshape(len(x), -1).min(1).values.reshape(-1, 1, 1, 1)
    result = {"floor_bins": round(float(floor.double().mean()), 4)}
    for method in METHODS:
        print(f"  {method}", file=sys.stderr)
        relevance = explain(run.model, x, method).relevance.abs().double()
        share = (relevance * floor).sum((1, 2, 3)) / relevance.sum((1, 2, 3)).clamp_min(1e-30)
        result[method] = round(float(share.mean()), 4)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="eighth width, 4 epochs")
    parser.add_argument("--clips", type=int, default=40, help="test clips explained per run")
    args = parser.parse_args()
    result: dict = {
        "benchmark": "silence_relevance",
        "quick": args.quick,
        "corpus": "fixtures/demo_corpus",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "inputs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for input_name in INPUTS:
            print(f"training AlexNet on {input_name}", file=sys.stderr)
            run_dir = Path(tmp) / input_name
            seconds = train(input_name, run_dir, args.quick)
            summary = json.loads((run_dir / "summary.json").read_text())
            result["inputs"][input_name] = {
                "train_seconds": round(seconds, 1),
                "test_accuracy": round(summary["test_accuracy"], 4),
                "share_of_abs_relevance_on_floor": floor_shares(run_dir, args.clips),
            }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
