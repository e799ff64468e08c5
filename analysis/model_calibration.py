"""Coverage and type-I rate of the crossed GLMM, the random-slope GLMM, the SDT test,
GEE, Welch's t and the log-RT mixed model.

Each model has a small simulated design (fast to fit, so that hundreds of
replications fit in a test, yet still crossed, with participant and stimulus
variation in every part the model lets vary) and an arm function that
simulates one study from a seed, fits the model and returns the 95% interval
and p-value of the tested effect. ``model_calibration`` runs both arms of a
model: with the design's effect (how often does the interval cover it?) and
with none (how often does the test reject at 5%?), in a process pool. The
slow test ``tests/analysis/test_model_calibration.py`` holds these rates to
the bands of issue 15 and ``benchmarks/model_calibration.py`` runs the same
code at any size.

The tested effect (the simulated value is the truth, all on the model's own scale):

- ``glmm``: the conditional log odds ratio of condition in
  ``y ~ condition + (1 | participant) + (1 | stimulus)``, two conditions between
  participants (``analysis.calibration.CoverageDesign``);
- ``slopes``: the same with ``(1 + condition | stimulus)``, conditions within
  participants, correlated stimulus intercepts and slopes (``SlopeDesign``);
- ``sdt``: the d' difference of ``analysis.sdt.fit_sdt``, conditions within
  participants, criterion varying by participant and by stimulus (``SDTDesign``);
- ``gee``, ``welch``, ``log_rt``: the population-averaged log odds ratio (GEE,
  ``analysis.compare.fit_gee``), the difference in mean participant accuracy
  (Welch's t, ``compare_conditions``) and the log-RT condition effect
  (``analysis.rt.fit_log_rt_model``) on the studies of the ``glmm`` arm
  (same design and seeds; truths from ``analysis.calibration.true_values``).
"""

from __future__ import annotations

import resource
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from analysis._errors import NotEnoughData
from analysis.calibration import (
    LEVELS,
    CoverageDesign,
    map_seeds,
    null_design,
    rate_row,
    simulate_coverage,
    true_values,
)
from analysis.compare import compare_conditions, fit_gee
from analysis.glmm import fit_crossed_glmm
from analysis.rt import fit_log_rt_model
from analysis.sdt import fit_sdt
from analysis.simulate import simulate_slope_trials, simulate_verification_trials

MODELS = ("glmm", "slopes", "sdt", "gee", "welch", "log_rt")


@dataclass(frozen=True)
class SlopeDesign:
    """Within-participant study with by-stimulus slopes (log-odds scale).

    ``stimulus_factor`` is the lower-triangular Lambda of ``simulate_slope_trials``:
    stimulus intercept SD 0.5, slope SD sqrt(0.2^2 + 0.4^2) = 0.45, correlation 0.45.
    """

    n_participants: int = 30
    n_trials: int = 20
    n_stimuli: int = 20
    intercept: float = 0.3
    effect: float = 0.5
    sd_participant: float = 0.8
    stimulus_factor: tuple[tuple[float, float], tuple[float, float]] = ((0.5, 0.0), (0.2, 0.4))


@dataclass(frozen=True)
class SDTDesign:
    """Within-participant verification study (probit scale): d' = ``dprime`` in
    condition c0 and ``dprime + effect`` in c1, criterion 0 in both, shifted by
    participant and stimulus effects with SDs ``sd_participant``, ``sd_stimulus``."""

    n_participants: int = 30
    n_trials: int = 30
    n_stimuli: int = 30
    dprime: float = 1.0
    effect: float = 0.5
    sd_participant: float = 0.4
    sd_stimulus: float = 0.3


Design = CoverageDesign | SlopeDesign | SDTDesign
Interval = dict[str, float]


def _glmm(design: CoverageDesign, seed: int) -> Interval:
    data = simulate_coverage(design, seed)
    return dict(fit_crossed_glmm(data, levels=LEVELS).term("condition[audible]"))


def _gee(design: CoverageDesign, seed: int) -> Interval:
    return dict(fit_gee(simulate_coverage(design, seed), levels=LEVELS).contrasts.iloc[0])


def _welch(design: CoverageDesign, seed: int) -> Interval:
    test = compare_conditions(simulate_coverage(design, seed), levels=LEVELS).iloc[0]
    return {"ci_low": test["diff_ci_low"], "ci_high": test["diff_ci_high"], "p_value": test["p_t"]}


def _log_rt(design: CoverageDesign, seed: int) -> Interval:
    fit = fit_log_rt_model(simulate_coverage(design, seed), levels=LEVELS)
    return dict(fit.coefficients.set_index("term").loc["condition[audible]"])


def _slopes(design: SlopeDesign, seed: int) -> Interval:
    data = simulate_slope_trials(
        np.random.default_rng(seed),
        n_participants=design.n_participants,
        n_trials=design.n_trials,
        n_stimuli=design.n_stimuli,
        effects=[design.intercept, design.effect],
        stimulus_factor=np.array(design.stimulus_factor),
        sd_participant=design.sd_participant,
        within=True,
    )
    fit = fit_crossed_glmm(data, levels=["c0", "c1"], stimulus_slopes="condition")
    return dict(fit.term("condition[c1]"))


def _sdt(design: SDTDesign, seed: int) -> Interval:
    trials = simulate_verification_trials(
        np.random.default_rng(seed),
        [design.dprime, design.dprime + design.effect],
        [0.0, 0.0],
        n_participants=design.n_participants,
        n_trials=design.n_trials,
        n_stimuli=design.n_stimuli,
        sd_participant=design.sd_participant,
        sd_stimulus=design.sd_stimulus,
    )
    return dict(fit_sdt(trials, levels=["c0", "c1"]).differences.iloc[0])


_SMALL_BETWEEN = CoverageDesign(n_participants=40, n_trials=20, n_stimuli=20)
_ARMS: dict[str, tuple[Callable[..., Interval], Design]] = {
    "glmm": (_glmm, _SMALL_BETWEEN),
    "slopes": (_slopes, SlopeDesign()),
    "sdt": (_sdt, SDTDesign()),
    "gee": (_gee, _SMALL_BETWEEN),
    "welch": (_welch, _SMALL_BETWEEN),
    "log_rt": (_log_rt, _SMALL_BETWEEN),
}


def true_value(model: str, design: Design) -> float:
    """The value ``model``'s interval should cover in ``design``: the simulated effect,
    except for the estimators whose target is derived from it (GEE, Welch, log RT)."""
    if model in ("gee", "welch", "log_rt"):
        return true_values(design)[model]  # type: ignore[arg-type]
    return design.effect


def arm_replication(model: str, design: Design, seed: int) -> dict[str, float]:
    """One simulated study of ``model``: ``seed``, ``ci_low``, ``ci_high``, ``p_value``
    of the tested effect (nan when the fit raised NotEnoughData)."""
    fit = _ARMS[model][0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # singular fits are counted, not printed
            row = fit(design, seed)
    except NotEnoughData:
        row = {}
    return {"seed": seed} | {k: float(row.get(k, np.nan)) for k in ("ci_low", "ci_high", "p_value")}


def default_design(model: str) -> Design:
    """The small design ``model_calibration`` uses for ``model`` unless given another."""
    if model not in _ARMS:
        raise ValueError(f"model must be one of {MODELS}, not {model!r}")
    return _ARMS[model][1]


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its finished (waited-for) children."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed_arm(
    model: str, design: Design, n_reps: int, seed: int, workers: int
) -> tuple[pd.DataFrame, dict[str, float]]:
    wall, cpu = time.perf_counter(), _cpu_seconds()
    rows = map_seeds(partial(arm_replication, model, design), range(seed, seed + n_reps), workers)
    seconds, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
    return pd.DataFrame(rows), {"seconds": seconds, "cpu_seconds": cpu, "workers": workers}


def _summary(
    model: str,
    quantity: str,
    arm: pd.DataFrame,
    hits: pd.Series,
    design: Design,
    first_seed: int,
    times: dict[str, float],
) -> dict[str, object]:
    ok = arm["p_value"].notna().to_numpy()
    truth = true_value(model, design)
    row = rate_row(model, quantity, hits.to_numpy()[ok], truth, design, first_seed)
    return row | {"n_failed": int((~ok).sum()), **times}


def model_calibration(
    model: str,
    n_reps: int = 500,
    *,
    n_null: int | None = None,
    seed: int = 20261203,
    design: Design | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """Coverage of the 95% interval (``n_reps`` studies with the design's effect, seeds
    ``seed`` ..) and rejection rate at 5% (``n_null``, default ``n_reps``, studies of
    the same design with ``effect = 0``, seeds ``seed + n_reps`` ..) of one model.

    Returns
    -------
    DataFrame of two rows with the columns of ``analysis.calibration.coverage_study``
    (``estimator`` = ``model``, ``quantity`` "coverage" / "false_positive_rate", ``rate``
    and its Wilson Monte Carlo interval, ...) plus ``n_failed`` (fits that raised
    NotEnoughData, left out of the rate), ``seconds`` (wall time of the arm),
    ``cpu_seconds`` (its CPU time, workers included) and ``workers``.
    """
    design = design or default_design(model)
    null = null_design(design)
    with_effect, t_effect = _timed_arm(model, design, n_reps, seed, workers)
    without, t_null = _timed_arm(model, null, n_null or n_reps, seed + n_reps, workers)
    truth = true_value(model, design)
    covered = (with_effect["ci_low"] <= truth) & (truth <= with_effect["ci_high"])
    rejected = without["p_value"] < 0.05
    return pd.DataFrame(
        [
            _summary(model, "coverage", with_effect, covered, design, seed, t_effect),
            _summary(model, "false_positive_rate", without, rejected, null, seed + n_reps, t_null),
        ]
    )
