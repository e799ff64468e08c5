"""Benchmark: coverage and type-I rate of the crossed GLMM, the random-slope GLMM, SDT,
GEE, Welch's t and the log-RT model.

Runs ``analysis.model_calibration.model_calibration`` (the code the slow test
``tests/analysis/test_model_calibration.py`` runs; designs in that module):
``--reps`` replications with the design's effect (coverage of the 95% interval,
default 500) and ``--null-reps`` without (rejections at 5%, default 1,000), per
model, in ``--workers`` processes (default 2).

Goals (issue 15): coverage 0.93-0.97, type-I 0.035-0.065. Prints one JSON object
keyed by model, each with the two rates, their Wilson Monte Carlo 95% intervals,
``n_reps``, ``n_failed``, ``seconds``, ``cpu_seconds`` (workers included) and
``reps_per_second`` (wall) of each arm, plus
``first_seed`` and ``workers``. ``--quick``: 20 replications per arm;
``--model`` runs one model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.model_calibration import MODELS, model_calibration  # noqa: E402

SEED = 20261203


def _summary(model: str, reps: int, null_reps: int, seed: int, workers: int) -> dict[str, object]:
    table = model_calibration(model, reps, n_null=null_reps, seed=seed, workers=workers)
    out: dict[str, object] = {}
    for row in table.itertuples():
        out[row.quantity] = {
            "rate": round(row.rate, 4),
            "mc_interval": [round(row.rate_ci_low, 4), round(row.rate_ci_high, 4)],
            "n_failed": row.n_failed,
            "seconds": round(row.seconds, 1),
            "cpu_seconds": round(row.cpu_seconds, 1),
            "n_reps": row.n_reps,
            "reps_per_second": round((row.n_reps + row.n_failed) / row.seconds, 2),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 replications per arm")
    parser.add_argument("--reps", type=int, default=500, help="replications with the effect")
    parser.add_argument(
        "--null-reps", type=int, default=1000, help="replications without an effect"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workers", type=int, default=2, help="processes per arm")
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all")
    args = parser.parse_args()
    reps, null_reps = (20, 20) if args.quick else (args.reps, args.null_reps)
    chosen = MODELS if args.model == "all" else (args.model,)
    result: dict[str, object] = {"first_seed": args.seed, "workers": args.workers}
    for model in chosen:
        result[model] = _summary(model, reps, null_reps, args.seed, args.workers)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
