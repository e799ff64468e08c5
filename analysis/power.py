"""Simulation-based power for the crossed (participant x stimulus) design.

"How many participants do I need to detect an accuracy difference of X with Y
trials each?" Each replication simulates a two-condition between-participant
study from the crossed logistic model (``simulate.simulate_accuracy_trials``)
with the assumed between-participant and between-stimulus SDs, analyses it, and
counts rejections at ``alpha``. Accuracies are population averages: the
intercept and effect are solved so that the *marginal* accuracies are
``baseline`` and ``baseline + difference``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize
from statsmodels.stats.proportion import proportion_confint
from tqdm import tqdm

from analysis._errors import NotEnoughData
from analysis.compare import compare_conditions, fit_gee
from analysis.glmm import fit_crossed_glmm
from analysis.simulate import marginal_accuracy, simulate_accuracy_trials

METHODS = ("glmm", "gee", "welch")


def logodds_for_accuracies(
    baseline: float, difference: float, sd_participant: float, sd_stimulus: float
) -> tuple[float, float]:
    """Intercept and condition effect (log-odds, conditional on the random effects)
    whose marginal accuracies are ``baseline`` and ``baseline + difference``."""
    target = baseline + difference
    if not (0 < baseline < 1 and 0 < target < 1):
        raise ValueError("baseline and baseline + difference must lie strictly between 0 and 1")
    sd = float(np.hypot(sd_participant, sd_stimulus))

    def solve(p: float) -> float:
        return float(optimize.brentq(lambda a: marginal_accuracy(a, sd) - p, -30.0, 30.0))

    a, b = solve(baseline), solve(target)
    return a, b - a


def _p_value(data: pd.DataFrame, method: str) -> float:
    if method == "glmm":
        fit = fit_crossed_glmm(data, levels=["visual", "audible"])
        return float(fit.term("condition[audible]")["p_value"])
    if method == "gee":
        return float(fit_gee(data, levels=["visual", "audible"]).contrasts["p_value"].iloc[0])
    return float(compare_conditions(data, levels=["visual", "audible"])["p_t"].iloc[0])


def simulate_power(
    *,
    n_participants: int,
    n_trials: int,
    difference: float,
    baseline: float = 0.6,
    sd_participant: float = 0.8,
    sd_stimulus: float = 0.5,
    n_stimuli: int | None = None,
    n_sims: int = 200,
    alpha: float = 0.05,
    method: str = "glmm",
    seed: int = 0,
    progress: bool = False,
) -> dict[str, float | int | str]:
    """Power of one design: the share of ``n_sims`` simulated studies rejecting at ``alpha``.

    Parameters
    ----------
    n_participants : total participants (split evenly over two conditions).
    n_trials : main trials per participant.
    difference : accuracy difference to detect (proportion, e.g. 0.1).
    baseline : accuracy in the reference condition (proportion).
    sd_participant, sd_stimulus : random-intercept SDs on the log-odds scale.
    n_stimuli : size of the stimulus pool (default max(n_trials, 40)).
    method : "glmm" (crossed GLMM Wald test), "gee" or "welch".

    Returns
    -------
    dict with the inputs plus ``power``, ``ci_low``, ``ci_high`` (Wilson, over
    simulations), ``n_failed`` (fits that could not be made count as non-rejections).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    n_stimuli = n_stimuli or max(n_trials, 40)
    intercept, effect = logodds_for_accuracies(baseline, difference, sd_participant, sd_stimulus)
    rng = np.random.default_rng(seed)
    rejections = failed = 0
    for _ in tqdm(
        range(n_sims), desc=f"power n={n_participants}", disable=not progress, leave=False
    ):
        data = simulate_accuracy_trials(
            rng,
            n_participants=n_participants,
            n_trials=n_trials,
            n_stimuli=n_stimuli,
            intercept=intercept,
            effect=effect,
            sd_participant=sd_participant,
            sd_stimulus=sd_stimulus,
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rejections += _p_value(data, method) < alpha
        except (NotEnoughData, np.linalg.LinAlgError):
            failed += 1
    low, high = proportion_confint(rejections, n_sims, method="wilson")
    return {
        "n_participants": n_participants,
        "n_trials": n_trials,
        "n_stimuli": n_stimuli,
        "baseline": baseline,
        "difference": difference,
        "sd_participant": sd_participant,
        "sd_stimulus": sd_stimulus,
        "method": method,
        "alpha": alpha,
        "n_sims": n_sims,
        "seed": seed,
        "power": rejections / n_sims,
        "ci_low": float(low),
        "ci_high": float(high),
        "n_failed": failed,
    }


def power_curve(
    n_participants: Sequence[int],
    *,
    n_trials: int,
    difference: float,
    progress: bool = True,
    seed: int = 0,
    **kwargs: object,
) -> pd.DataFrame:
    """``simulate_power`` over several sample sizes (seed + i for the i-th size).

    Returns
    -------
    DataFrame, one row per sample size, columns as the dict of ``simulate_power``.
    """
    rows = []
    for i, n in enumerate(tqdm(list(n_participants), desc="power curve", disable=not progress)):
        rows.append(
            simulate_power(
                n_participants=int(n),
                n_trials=n_trials,
                difference=difference,
                seed=seed + i,
                progress=progress,
                **kwargs,
            )
        )  # type: ignore[arg-type]
    return pd.DataFrame(rows)
