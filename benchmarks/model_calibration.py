"""Benchmark: coverage and type-I error of the random-slope and SDT models.

Four arms, ``--reps`` replications each (default 500):

- slopes: 40 participants x 24 trials on 24 stimuli, two conditions within
  participants, correlated by-stimulus slopes (Lambda = [[0.5, 0], [0.2, 0.4]],
  participant SD 0.8), fitted with ``(1 + condition | stimulus)``; effect 0.5
  log-odds (coverage of the 95% Wald interval) and 0 (rejections at 5%);
- sdt: 40 participants x 30 verification trials on 40 stimuli, criterion SDs
  0.4 (participant) and 0.3 (stimulus), d' = (1.0, 1.5) (coverage of the d'
  difference) and (1.0, 1.0) (rejections of the d'-difference test).

Goals (issue 15): coverage 0.93-0.97, type-I 0.035-0.065. Prints one JSON object
with each rate, its Wilson Monte Carlo 95% interval, ``reps``, ``first_seed``
and ``seconds``. ``--quick``: 20 replications per arm; ``--arm slopes|sdt`` runs
one model (two processes finish sooner on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from statsmodels.stats.proportion import proportion_confint
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.glmm import fit_crossed_glmm  # noqa: E402
from analysis.sdt import fit_sdt  # noqa: E402
from analysis.simulate import simulate_slope_trials, simulate_verification_trials  # noqa: E402

SEED = 20261203
_FACTOR = np.array([[0.5, 0.0], [0.2, 0.4]])


def _slopes(seed: int, effect: float) -> tuple[float, float, float]:
    data = simulate_slope_trials(
        np.random.default_rng(seed),
        n_participants=40,
        n_trials=24,
        n_stimuli=24,
        effects=[0.3, effect],
        stimulus_factor=_FACTOR,
        within=True,
    )
    row = fit_crossed_glmm(data, levels=["c0", "c1"], stimulus_slopes="condition").term(
        "condition[c1]"
    )
    return float(row["ci_low"]), float(row["ci_high"]), float(row["p_value"])


def _sdt(seed: int, effect: float) -> tuple[float, float, float]:
    trials = simulate_verification_trials(
        np.random.default_rng(seed),
        [1.0, 1.0 + effect],
        [0.0, 0.0],
        n_participants=40,
        n_trials=30,
        n_stimuli=40,
    )
    row = fit_sdt(trials, levels=["c0", "c1"]).differences.iloc[0]
    return float(row["ci_low"]), float(row["ci_high"]), float(row["p_value"])


def _rate(hits: int, n: int) -> dict[str, object]:
    low, high = proportion_confint(hits, n, method="wilson")
    return {"rate": round(hits / n, 4), "mc_interval": [round(low, 4), round(high, 4)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 replications per arm")
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--arm", choices=["slopes", "sdt", "both"], default="both", help="which model to check"
    )
    args = parser.parse_args()
    reps = 20 if args.quick else args.reps
    start = time.perf_counter()
    result: dict[str, object] = {"reps": reps, "first_seed": args.seed}
    for name, fit, effect in (("slopes", _slopes, 0.5), ("sdt", _sdt, 0.5)):
        if args.arm not in (name, "both"):
            continue
        covered = rejected = 0
        for i in tqdm(range(reps), desc=f"{name} (effect + null)", file=sys.stderr):
            low, high, _ = fit(args.seed + i, effect)
            covered += low <= effect <= high
            rejected += fit(args.seed + 100_000 + i, 0.0)[2] < 0.05
        result[f"{name}_coverage"] = _rate(covered, reps)
        result[f"{name}_type_i"] = _rate(rejected, reps)
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
