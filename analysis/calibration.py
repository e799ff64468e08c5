"""Do the reported intervals cover, and do the tests hold their level? (simulation)

``coverage_study`` simulates two-condition crossed studies with a known effect
and with none, fits every inferential estimator the report uses, and counts how
often the 95% interval covers the true value and how often the test rejects at
5% under the null. ``interval_checks`` does the same for the Wilson and d'
intervals under their own (independent-trials) assumptions. Seeds are explicit
and returned with the results; ``benchmarks/analysis_coverage.py`` runs this at
scale and ``docs/analysis.md`` records the numbers. ``map_seeds`` (replications
in a process pool) and ``rate_row`` (a rate with its Monte Carlo interval) are
shared with ``analysis.model_calibration`` (random slopes, SDT).

True values: the GLMM estimates the conditional log odds ratio (the simulated
``effect``); GEE the population-averaged log odds ratio and Welch the
difference in mean accuracy, both computed from the simulated model by
Gauss-Hermite quadrature over participant and stimulus effects; the log-RT
model the simulated ``log_rt_effect``.
"""

from __future__ import annotations

import multiprocessing
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from functools import partial
from typing import TypeVar

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import logit
from statsmodels.stats.proportion import proportion_confint
from tqdm import tqdm

from analysis.compare import compare_conditions, fit_gee
from analysis.descriptive import dprime, signal_detection
from analysis.glmm import fit_crossed_glmm
from analysis.rt import fit_log_rt_model
from analysis.simulate import marginal_accuracy, simulate_accuracy_trials

LEVELS = ["visual", "audible"]
DesignT = TypeVar("DesignT")


@dataclass(frozen=True)
class CoverageDesign:
    """The simulated design of a coverage study (log-odds and log-ms scales)."""

    n_participants: int = 60
    n_trials: int = 30
    n_stimuli: int = 40
    intercept: float = 0.4
    effect: float = 0.5
    sd_participant: float = 0.8
    sd_stimulus: float = 0.5
    log_rt_effect: float = 0.1


def true_values(design: CoverageDesign) -> dict[str, float]:
    """What each estimator estimates in ``design``: ``glmm``, ``gee``, ``welch``, ``log_rt``."""
    sd = float(np.hypot(design.sd_participant, design.sd_stimulus))
    p0 = marginal_accuracy(design.intercept, sd)
    p1 = marginal_accuracy(design.intercept + design.effect, sd)
    return {
        "glmm": design.effect,
        "gee": float(logit(p1) - logit(p0)),
        "welch": p1 - p0,
        "log_rt": design.log_rt_effect,
    }


def null_design(design: DesignT) -> DesignT:
    """The same simulated design (a dataclass) with every ``*effect`` field set to 0."""
    zeros = {f.name: 0.0 for f in fields(design) if f.name.endswith("effect")}
    return replace(design, **zeros)


def simulate_coverage(design: CoverageDesign, seed: int) -> pd.DataFrame:
    """One simulated study of ``design`` (``simulate_accuracy_trials`` from ``seed``)."""
    return simulate_accuracy_trials(
        np.random.default_rng(seed),
        n_participants=design.n_participants,
        n_trials=design.n_trials,
        n_stimuli=design.n_stimuli,
        intercept=design.intercept,
        effect=design.effect,
        sd_participant=design.sd_participant,
        sd_stimulus=design.sd_stimulus,
        log_rt_effect=design.log_rt_effect,
    )


def _one_replication(design: CoverageDesign, seed: int) -> dict[str, float]:
    data = simulate_coverage(design, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        glmm = fit_crossed_glmm(data, levels=LEVELS).term("condition[audible]")
        gee = fit_gee(data, levels=LEVELS).contrasts.iloc[0]
        test = compare_conditions(data, levels=LEVELS).iloc[0]
        rt = fit_log_rt_model(data, levels=LEVELS).coefficients.iloc[1]
    return {
        "seed": seed,
        "glmm_low": glmm["ci_low"],
        "glmm_high": glmm["ci_high"],
        "glmm_p": glmm["p_value"],
        "gee_low": gee["ci_low"],
        "gee_high": gee["ci_high"],
        "gee_p": gee["p_value"],
        "welch_low": test["diff_ci_low"],
        "welch_high": test["diff_ci_high"],
        "welch_p": test["p_t"],
        "mwu_p": test["p_rank"],
        "log_rt_low": rt["ci_low"],
        "log_rt_high": rt["ci_high"],
        "log_rt_p": rt["p_value"],
    }


def map_seeds(
    replication: Callable[[int], dict[str, float]],
    seeds: range,
    workers: int = 1,
    *,
    progress: bool = False,
) -> list[dict[str, float]]:
    """``replication(seed)`` for every seed, in order, in ``workers`` processes.

    Each replication draws from its own seed, so the rows do not depend on how
    many workers ran them. ``replication`` must be picklable (a module-level
    function or a ``functools.partial`` of one) when ``workers`` > 1.
    """
    bar = partial(tqdm, total=len(seeds), desc="replications", disable=not progress, leave=False)
    if workers <= 1:
        return [replication(s) for s in bar(seeds)]
    # fork: workers inherit the imported libraries; a spawned worker first spends
    # 2 s of CPU (7 s wall on a loaded machine) importing pandas, scipy and statsmodels.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        chunk = max(1, len(seeds) // (10 * workers))
        return list(bar(pool.map(replication, seeds, chunksize=chunk)))


def replicate(
    design: CoverageDesign,
    n_reps: int,
    seed: int,
    *,
    workers: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Raw per-replication intervals and p-values (seeds ``seed`` .. ``seed + n_reps - 1``)."""
    rows = map_seeds(
        partial(_one_replication, design), range(seed, seed + n_reps), workers, progress=progress
    )
    return pd.DataFrame(rows)


def rate_row(
    estimator: str, what: str, hits: np.ndarray, truth: float, design: object, seed: int
) -> dict[str, object]:
    """One rate (share of ``hits``) with its Wilson Monte Carlo 95% interval; ``design``
    is the simulated design (a dataclass), recorded as text."""
    low, high = proportion_confint(hits.sum(), len(hits), method="wilson")
    return {
        "estimator": estimator,
        "quantity": what,
        "true_value": truth,
        "n_reps": len(hits),
        "rate": float(hits.mean()),
        "rate_ci_low": float(low),
        "rate_ci_high": float(high),
        "first_seed": seed,
        "design": str(asdict(design)),
    }


def coverage_study(
    n_reps: int = 200,
    *,
    seed: int = 20260101,
    design: CoverageDesign | None = None,
    workers: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Coverage of 95% intervals (with the design's effects) and rejection rates at
    5% (same design with every effect set to zero).

    Returns
    -------
    DataFrame with ``estimator`` (glmm, gee, welch, mwu, log_rt), ``quantity``
    ("coverage" or "false_positive_rate"), ``true_value``, ``n_reps``, ``rate``,
    ``rate_ci_low``, ``rate_ci_high`` (Wilson, Monte Carlo uncertainty),
    ``first_seed``, ``design``.
    """
    design = design or CoverageDesign()
    null = null_design(design)
    with_effect = replicate(design, n_reps, seed, workers=workers, progress=progress)
    without = replicate(null, n_reps, seed + n_reps, workers=workers, progress=progress)
    truth = true_values(design)
    rows = []
    for name in ("glmm", "gee", "welch", "log_rt"):
        hits = (
            (with_effect[f"{name}_low"] <= truth[name])
            & (truth[name] <= with_effect[f"{name}_high"])
        ).to_numpy()
        rows.append(rate_row(name, "coverage", hits, truth[name], design, seed))
    for name in ("glmm", "gee", "welch", "mwu", "log_rt"):
        rows.append(
            rate_row(
                name,
                "false_positive_rate",
                (without[f"{name}_p"] < 0.05).to_numpy(),
                0.0,
                null,
                seed + n_reps,
            )
        )
    return pd.DataFrame(rows)


def interval_checks(n_reps: int = 2000, *, seed: int = 7) -> pd.DataFrame:
    """Coverage of the Wilson interval and of the d' interval under independent trials.

    Wilson: n = 50 and 400 trials at p = 0.3, 0.7, 0.9. d': 100 signal and 100 noise
    trials at d' = 1 and 2 (criterion 0), analysed with ``signal_detection``.

    Returns
    -------
    DataFrame with ``estimator``, ``setting``, ``n_reps``, ``coverage``, ``first_seed``.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for n in (50, 400):
        for p in (0.3, 0.7, 0.9):
            k = rng.binomial(n, p, n_reps)
            low, high = proportion_confint(k, n, method="wilson")
            rows.append(
                {
                    "estimator": "wilson",
                    "setting": f"n={n}, p={p}",
                    "n_reps": n_reps,
                    "coverage": float(np.mean((low <= p) & (p <= high))),
                    "first_seed": seed,
                }
            )
    for d in (1.0, 2.0):
        rows.append(_dprime_coverage(rng, d, n_reps, seed))
    return pd.DataFrame(rows)


def _dprime_coverage(
    rng: np.random.Generator, d: float, n_reps: int, seed: int, n: int = 100
) -> dict[str, object]:
    hits = rng.binomial(n, stats.norm.cdf(d / 2), n_reps)
    fas = rng.binomial(n, stats.norm.cdf(-d / 2), n_reps)
    frame = pd.DataFrame(
        {
            "condition": np.repeat(np.arange(n_reps).astype(str), 2 * n),
            "model_correct": np.tile(np.r_[np.ones(n, bool), np.zeros(n, bool)], n_reps),
            "answer": np.where(
                np.concatenate(
                    [
                        np.r_[np.arange(n) < h, np.arange(n) < f]
                        for h, f in zip(hits, fas, strict=True)
                    ]
                ),
                "yes",
                "no",
            ),
        }
    )
    table = signal_detection(frame)
    covered = (table["dprime_ci_low"] <= d) & (d <= table["dprime_ci_high"])
    assert np.allclose(dprime(0.5, 0.5)[0], 0.0)
    return {
        "estimator": "dprime",
        "setting": f"d'={d:g}, {n}+{n} trials",
        "n_reps": n_reps,
        "coverage": float(covered.mean()),
        "first_seed": seed,
    }
