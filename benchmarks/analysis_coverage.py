"""Benchmark: coverage of 95% intervals and false-positive rates of the analysis.

Simulates two-condition crossed studies (60 participants x 30 trials, 40
stimuli; see ``analysis.calibration.CoverageDesign``) with known effects and
with none, fits the crossed GLMM, GEE, Welch/Mann-Whitney and the log-RT model,
and reports how often each 95% interval covers the true value (goal 0.92-0.98)
and how often each test rejects at 5% without an effect (goal 0.03-0.07).
Also checks the Wilson and d' intervals under independent trials.

Prints one JSON object with ``coverage``, ``false_positive_rate`` (keyed by
estimator), their Monte Carlo 95% intervals, ``interval_checks``, ``n_reps``,
``first_seed`` and ``seconds``. ``--quick``: 40 replications per arm (< 1 min).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.calibration import CoverageDesign, coverage_study, interval_checks  # noqa: E402

SEED = 20260101


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="40 replications per arm")
    parser.add_argument(
        "--reps", type=int, default=1000, help="replications per arm (effect and null)"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    reps = 40 if args.quick else args.reps
    start = time.perf_counter()
    table = coverage_study(reps, seed=args.seed, progress=True)
    checks = interval_checks(200 if args.quick else 4000, seed=args.seed)
    result: dict[str, object] = {
        "n_reps": reps,
        "first_seed": args.seed,
        "design": CoverageDesign().__dict__,
    }
    for quantity in ("coverage", "false_positive_rate"):
        part = table.loc[table["quantity"] == quantity].set_index("estimator")
        result[quantity] = part["rate"].round(4).to_dict()
        result[f"{quantity}_mc_interval"] = {
            k: [round(lo, 4), round(hi, 4)]
            for k, lo, hi in zip(part.index, part["rate_ci_low"], part["rate_ci_high"], strict=True)
        }
    result["true_values"] = (
        table.loc[table["quantity"] == "coverage"].set_index("estimator")["true_value"].to_dict()
    )
    result["interval_checks"] = {
        f"{r.estimator} {r.setting}": r.coverage for r in checks.itertuples()
    }
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
