"""Training throughput of AudioNet and AlexNet on CPU, and the share of time spent on data.

Trains each network for a few steps with the paper's solver settings (SGD, batch 100,
full width unless ``--width``) on the demo corpus's cached inputs, through the same
loop ``python -m explainer train`` uses. ``samples_per_s`` counts training samples per
second of step time (fetch + forward + backward + update); ``data_wait_share`` is the
fraction of step time spent fetching the batch from the memory-mapped cache. The
estimate of a full paper reproduction follows from these numbers (see docs/benchmarks.md).

Usage: python benchmarks/train.py [--quick] [--steps N] [--width W] [--threads T]
Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from explainer.cache import preprocess  # noqa: E402
from explainer.data import load_recordings  # noqa: E402
from explainer.models import MODEL_INPUT, build_model  # noqa: E402
from explainer.train_config import PRESETS  # noqa: E402
from explainer.training_loop import ArraySet, Hyper, Loop, LoopState, make_optimizer  # noqa: E402

DEMO = REPO / "fixtures" / "demo_corpus"
# The paper's schedule: steps of batch 100 per run, and the runs of a reproduction.
PAPER_STEPS = {"audionet": 50_000, "alexnet": 10_000}
PAPER_RUNS = {"digit": 5, "sex": 4}


def measure(model_name: str, data: ArraySet, *, steps: int, width: float) -> dict[str, float]:
    """Samples per second and data-wait share over ``steps`` steps after one warm-up step."""
    paper = PRESETS["paper"][model_name]
    torch.manual_seed(0)
    model = build_model(model_name, 10, width)
    hyper = Hyper(
        seed=0,
        batch_size=paper["batch_size"],
        epochs=None,
        max_steps=steps + 1,
        optimizer="sgd",
        lr=paper["lr"],
        momentum=0.9,
        weight_decay=0.0,
        grad_clip=paper["grad_clip"],
        checkpoint_every=10**9,
    )
    tiny_val = ArraySet(data.inputs[:8], data.labels[:8])  # epoch ends are not what is measured
    loop = Loop(
        model=model,
        optimizer=make_optimizer(model, hyper),
        hyper=hyper,
        train=data,
        val=tiny_val,
        state=LoopState(),
        on_epoch=lambda row, best: None,
        on_checkpoint=lambda: None,
        progress=False,
    )
    loop.run(stop_after=1)  # warm-up: first-call allocations are not steady state
    loop.timing.data = loop.timing.total = loop.timing.samples = 0
    loop.run(stop_after=steps)
    t = loop.timing
    return {"samples_per_s": t.samples / t.total, "data_wait_share": t.data / t.total}


def reproduction_hours(samples_per_s: dict[str, float]) -> float:
    """CPU hours for 5 digit + 4 sex splits of both networks, training steps only."""
    runs = sum(PAPER_RUNS.values())
    return sum(runs * PAPER_STEPS[m] * 100 / samples_per_s[m] for m in PAPER_STEPS) / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 steps per network (under a minute)")
    parser.add_argument(
        "--steps", type=int, help="measured steps per network (default 20, quick 3)"
    )
    parser.add_argument(
        "--width", type=float, default=1.0, help="channel multiplier (1.0 = the paper's networks)"
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = args.steps or (3 if args.quick else 20)
    table = load_recordings(DEMO, progress=False)
    labels = np.array([r.digit for r in table], np.int64)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("audionet", "alexnet"):
            pre = preprocess(
                list(table),
                MODEL_INPUT[name],
                seed=0,
                cache_dir=Path(tmp),
                workers=2,
                progress=False,
            )
            results[name] = measure(
                name, ArraySet(pre.inputs, labels), steps=steps, width=args.width
            )
    samples = {m: round(r["samples_per_s"], 2) for m, r in results.items()}
    print(
        json.dumps(
            {
                "samples_per_s": samples,
                "data_wait_share": {m: round(r["data_wait_share"], 4) for m, r in results.items()},
                "paper_reproduction_cpu_hours": round(reproduction_hours(samples), 1)
                if args.width == 1.0
                else None,
                "steps": steps,
                "batch_size": 100,
                "width": args.width,
                "threads": torch.get_num_threads(),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "torch": torch.__version__,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
