"""Simulation-based power for the crossed (participant x stimulus) design.

"How many participants and stimuli do I need to detect an accuracy difference of
X?" Each replication simulates a two-condition study from the crossed logistic
model (``PowerModel``, drawn by ``simulate.simulate_accuracy_trials``), between or
within participants, analyses it, and counts rejections at ``alpha``. The model
comes either from assumptions (``PowerModel.from_accuracies``: the intercept and
effect are solved so that the *marginal* accuracies are ``baseline`` and
``baseline + difference``) or from a pilot export (``load_pilot``: the crossed
GLMM fitted to it). ``minimal_detectable_effect`` searches the effect that
reaches a target power.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from scipy import optimize
from statsmodels.stats.proportion import proportion_confint
from tqdm import tqdm

from analysis._checks import check_columns
from analysis._contrasts import condition_levels
from analysis._errors import NotEnoughData
from analysis.compare import compare_conditions, fit_gee
from analysis.exclusions import ExclusionConfig, apply_exclusions
from analysis.glmm import fit_crossed_glmm
from analysis.io import ExportError, load_export
from analysis.simulate import marginal_accuracy, simulate_accuracy_trials

METHODS = ("glmm", "gee", "welch")
DESIGNS = ("between", "within")
_LEVELS = ["visual", "audible"]  # the simulated studies' condition names
_ACCURACY_CEILING = 0.995  # the effect search stops where accuracy saturates


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


@dataclass(frozen=True)
class PowerModel:
    """The model new studies are simulated from (log-odds, conditional on the random effects)::

        logit P(correct) = intercept + effect * [second condition] + u_p + v_s
        u ~ N(0, sd_participant^2), v ~ N(0, sd_stimulus^2)

    ``design``: "between" (each participant in one condition, balanced) or
    "within" (each participant's trials split evenly between the conditions).
    """

    intercept: float
    effect: float
    sd_participant: float
    sd_stimulus: float
    design: str = "between"

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise ValueError(f"design must be one of {DESIGNS}, not {self.design!r}")
        if not (self.sd_participant >= 0 and self.sd_stimulus >= 0):
            raise ValueError("random-effect SDs must be >= 0")

    @classmethod
    def from_accuracies(
        cls,
        baseline: float,
        difference: float,
        sd_participant: float,
        sd_stimulus: float,
        design: str = "between",
    ) -> PowerModel:
        """The model whose marginal accuracies are ``baseline`` and ``baseline + difference``."""
        a, b = logodds_for_accuracies(baseline, difference, sd_participant, sd_stimulus)
        return cls(a, b, sd_participant, sd_stimulus, design)

    def with_difference(self, difference: float) -> PowerModel:
        """The same baseline accuracy, SDs and design with another accuracy difference."""
        return PowerModel.from_accuracies(
            self.accuracies()[0], difference, self.sd_participant, self.sd_stimulus, self.design
        )

    def with_effect(self, effect: float) -> PowerModel:
        """The same model with another condition effect (log-odds)."""
        return dataclasses.replace(self, effect=effect)

    def accuracies(self) -> tuple[float, float]:
        """Marginal (population-average) accuracies of the two conditions."""
        sd = float(np.hypot(self.sd_participant, self.sd_stimulus))
        return (
            marginal_accuracy(self.intercept, sd),
            marginal_accuracy(self.intercept + self.effect, sd),
        )

    def describe(self) -> dict[str, float | str]:
        """The model's numbers as recorded in every power table row."""
        base, other = self.accuracies()
        return {
            "design": self.design,
            "baseline": base,
            "difference": other - base,
            "intercept": self.intercept,
            "effect": self.effect,
            "odds_ratio": float(np.exp(self.effect)),
            "sd_participant": self.sd_participant,
            "sd_stimulus": self.sd_stimulus,
        }


@dataclass(frozen=True)
class Pilot:
    """A pilot study's fitted model and its size.

    ``levels`` are the pilot's two conditions (the first is the reference, the
    model's ``effect`` is the second's); ``trials_per_participant`` is the median
    number of main forward trials per participant, ``share`` that over ``n_stimuli``.
    """

    model: PowerModel
    levels: tuple[str, str]
    design: str
    n_participants: int
    n_stimuli: int
    trials_per_participant: int
    effect_se: float
    effect_p_value: float

    @property
    def share(self) -> float:
        """Share of the stimulus pool each pilot participant judged."""
        return self.trials_per_participant / self.n_stimuli

    def to_dict(self) -> dict[str, object]:
        """The pilot's numbers as plain JSON-able values."""
        return {
            **self.model.describe(),
            "pilot_design": self.design,
            "levels": list(self.levels),
            "n_participants": self.n_participants,
            "n_stimuli": self.n_stimuli,
            "trials_per_participant": self.trials_per_participant,
            "effect_se": self.effect_se,
            "effect_p_value": self.effect_p_value,
        }


def fit_pilot(
    trials: pd.DataFrame, *, levels: Sequence[str] | None = None, design: str | None = None
) -> Pilot:
    """Fit the crossed GLMM to a pilot's main forward trials.

    Parameters
    ----------
    trials : one row per trial (``participant``, ``stimulus``, ``condition``,
        ``answer_correct``).
    levels : the two conditions to compare (reference first); default: the
        pilot's conditions, which must then be exactly two.
    design : "between" or "within" for the simulated studies; default: the
        pilot's (within if any participant saw both conditions).

    Raises
    ------
    ValueError if the pilot does not have the two conditions; NotEnoughData if
    the model cannot be fitted.
    """
    check_columns(
        trials,
        {"participant": "any", "stimulus": "any", "condition": "any", "answer_correct": "bool"},
        where="pilot trials",
    )
    pair = _pilot_levels(trials["condition"], levels)
    data = trials.loc[trials["condition"].astype(str).isin(pair)]
    seen = data.groupby("participant")["condition"].nunique()
    found = "within" if (seen > 1).any() else "between"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_crossed_glmm(data, levels=list(pair))
    term = fit.term(f"condition[{pair[1]}]")
    model = PowerModel(
        float(fit.term("Intercept")["estimate"]),
        float(term["estimate"]),
        fit.sd_participant,
        fit.sd_stimulus,
        design or found,
    )
    per_person = data.groupby("participant").size()
    return Pilot(
        model,
        pair,
        found,
        int(per_person.size),
        int(data["stimulus"].nunique()),
        int(np.median(per_person)),
        float(term["se"]),
        float(term["p_value"]),
    )


def _pilot_levels(values: pd.Series, levels: Sequence[str] | None) -> tuple[str, str]:
    present = condition_levels(values)
    if levels is None:
        if len(present) != 2:
            what = "a single condition" if len(present) < 2 else f"{len(present)} conditions"
            raise ValueError(
                f"the pilot has {what} ({', '.join(present)}); power for a condition "
                "effect needs two (choose them with --levels A,B)"
            )
        return present[0], present[1]
    chosen = [str(v) for v in levels]
    missing = [v for v in chosen if v not in present]
    if len(chosen) != 2 or len(set(chosen)) != 2 or missing:
        raise ValueError(
            f"--levels needs two different conditions of the pilot ({', '.join(present)}), "
            f"got {','.join(chosen)}"
        )
    return chosen[0], chosen[1]


def load_pilot(
    path: str | os.PathLike[str],
    *,
    levels: Sequence[str] | None = None,
    design: str | None = None,
    config: ExclusionConfig | None = None,
) -> Pilot:
    """Read a pilot export, apply the exclusions (pilot-mode data kept, it is the
    point) and ``fit_pilot`` its main forward trials.

    Raises
    ------
    ExportError on an unreadable export or one with no forward trials left.
    """
    export = load_export(path)
    rules = dataclasses.replace(config or ExclusionConfig(), exclude_pilot=False)
    kept = apply_exclusions(export.trials, export.participants, rules).trials
    forward = kept.loc[kept["task"] == "forward"].reset_index(drop=True)
    if forward.empty:
        raise ExportError(f"{export.path}: no main forward trials left after the exclusions")
    return fit_pilot(forward, levels=levels, design=design)


@dataclass(frozen=True)
class PowerRuns:
    """How a power figure is simulated: ``n_sims`` studies drawn from ``seed``, each
    analysed with ``method`` ("glmm", "gee" or "welch") and counted as a rejection at
    ``alpha``; ``progress`` shows progress bars."""

    n_sims: int = 200
    alpha: float = 0.05
    method: str = "glmm"
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}")
        if self.n_sims < 1 or not 0 < self.alpha < 1:
            raise ValueError("n_sims must be positive and alpha in (0, 1)")


def _p_value(data: pd.DataFrame, method: str) -> float:
    if method == "glmm":
        # The fit's own p-value: the report's test (analysis._wald), so power is its power.
        fit = fit_crossed_glmm(data, levels=_LEVELS)
        return float(fit.term("condition[audible]")["p_value"])
    if method == "gee":
        return float(fit_gee(data, levels=_LEVELS).contrasts["p_value"].iloc[0])
    return float(compare_conditions(data, levels=_LEVELS)["p_t"].iloc[0])


def _rejections(
    model: PowerModel,
    *,
    n_participants: int,
    n_trials: int,
    n_stimuli: int,
    runs: PowerRuns,
) -> tuple[int, int]:
    """(rejections, failed fits) over ``runs.n_sims`` studies. The draws do not depend
    on ``model.effect``, so one seed gives common random numbers across effects."""
    rng = np.random.default_rng(runs.seed)
    rejections = failed = 0
    for _ in tqdm(
        range(runs.n_sims),
        desc=f"power n={n_participants}",
        disable=not runs.progress,
        leave=False,
    ):
        data = simulate_accuracy_trials(
            rng,
            n_participants=n_participants,
            n_trials=n_trials,
            n_stimuli=n_stimuli,
            intercept=model.intercept,
            effect=model.effect,
            sd_participant=model.sd_participant,
            sd_stimulus=model.sd_stimulus,
            within=model.design == "within",
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rejections += _p_value(data, runs.method) < runs.alpha
        except (NotEnoughData, np.linalg.LinAlgError):
            failed += 1
    return int(rejections), failed


def _power_row(
    model: PowerModel,
    *,
    n_participants: int,
    n_trials: int,
    n_stimuli: int,
    runs: PowerRuns,
) -> dict[str, float | int | str]:
    rejections, failed = _rejections(
        model, n_participants=n_participants, n_trials=n_trials, n_stimuli=n_stimuli, runs=runs
    )
    low, high = proportion_confint(rejections, runs.n_sims, method="wilson")
    return {
        "n_participants": n_participants,
        "n_trials": n_trials,
        "n_stimuli": n_stimuli,
        **model.describe(),
        "method": runs.method,
        "alpha": runs.alpha,
        "n_sims": runs.n_sims,
        "seed": runs.seed,
        "power": rejections / runs.n_sims,
        "ci_low": float(low),
        "ci_high": float(high),
        "n_failed": failed,
    }


def simulate_power(
    *,
    n_participants: int,
    n_trials: int,
    difference: float,
    baseline: float = 0.6,
    sd_participant: float = 0.8,
    sd_stimulus: float = 0.5,
    n_stimuli: int | None = None,
    design: str = "between",
    n_sims: int = 200,
    alpha: float = 0.05,
    method: str = "glmm",
    seed: int = 0,
    progress: bool = False,
) -> dict[str, float | int | str]:
    """Power of one design: the share of ``n_sims`` simulated studies rejecting at ``alpha``.

    Parameters
    ----------
    n_participants : total participants (split evenly over two conditions when between).
    n_trials : main trials per participant.
    difference : accuracy difference to detect (proportion, e.g. 0.1).
    baseline : accuracy in the reference condition (proportion).
    sd_participant, sd_stimulus : random-intercept SDs on the log-odds scale.
    n_stimuli : size of the stimulus pool (default max(n_trials, 40)).
    design : "between" or "within" participants.
    method : "glmm" (the crossed GLMM's Wald t test on between-within df, the test
        the report uses), "gee" or "welch" (paired t when within).

    Returns
    -------
    dict with the inputs, the model (``intercept``, ``effect``, ``odds_ratio``)
    plus ``power``, ``ci_low``, ``ci_high`` (Wilson, over simulations),
    ``n_failed`` (fits that could not be made count as non-rejections).
    """
    model = PowerModel.from_accuracies(baseline, difference, sd_participant, sd_stimulus, design)
    return _power_row(
        model,
        n_participants=n_participants,
        n_trials=n_trials,
        n_stimuli=n_stimuli or max(n_trials, 40),
        runs=PowerRuns(n_sims=n_sims, alpha=alpha, method=method, seed=seed, progress=progress),
    )


def trials_for(n_stimuli: int, *, trials: int | None = None, share: float | None = None) -> int:
    """Trials per participant in a study with a pool of ``n_stimuli``: ``trials``
    (at most the pool), else ``share`` of the pool (at least 1), else the whole pool."""
    if trials is not None:
        if trials < 1:
            raise ValueError(f"trials per participant must be positive, got {trials}")
        return min(trials, n_stimuli)
    if share is not None:
        return int(min(n_stimuli, max(1, round(share * n_stimuli))))
    return n_stimuli


def _over_grid(
    evaluate: Callable[..., dict[str, float | int | str]],
    participants: Sequence[int],
    stimuli: Sequence[int],
    *,
    trials: int | None,
    share: float | None,
    runs: PowerRuns,
    desc: str,
) -> pd.DataFrame:
    """``evaluate`` at every (participants, stimuli) cell, participants varying
    fastest, trials per participant by ``trials_for``; cell i gets ``runs.seed + i``."""
    if not participants or not stimuli or min(*participants, *stimuli) < 2:
        raise ValueError("participant and stimulus counts must be integers >= 2")
    cells = [(int(n), int(s)) for s in stimuli for n in participants]
    rows = [
        evaluate(
            n_participants=n,
            n_stimuli=s,
            n_trials=trials_for(s, trials=trials, share=share),
            runs=dataclasses.replace(runs, seed=runs.seed + i),
        )
        for i, (n, s) in enumerate(tqdm(cells, desc=desc, disable=not runs.progress))
    ]
    return pd.DataFrame(rows)


def power_grid(
    model: PowerModel,
    participants: Sequence[int],
    stimuli: Sequence[int],
    *,
    trials: int | None = None,
    share: float | None = None,
    runs: PowerRuns = PowerRuns(progress=True),
) -> pd.DataFrame:
    """Power of ``model`` for every (participants, stimuli) pair; cell i uses
    ``runs.seed + i``.

    Trials per participant are ``trials_for(stimuli, trials=, share=)``.

    Returns
    -------
    DataFrame, one row per cell, columns as the dict of ``simulate_power``.
    """
    return _over_grid(
        partial(_power_row, model),
        participants,
        stimuli,
        trials=trials,
        share=share,
        runs=runs,
        desc="power grid",
    )


def power_curve(
    n_participants: Sequence[int],
    *,
    n_trials: int,
    difference: float,
    baseline: float = 0.6,
    sd_participant: float = 0.8,
    sd_stimulus: float = 0.5,
    n_stimuli: int | Sequence[int] | None = None,
    design: str = "between",
    runs: PowerRuns = PowerRuns(progress=True),
) -> pd.DataFrame:
    """``simulate_power`` over several sample sizes (and stimulus pools: a grid).

    ``n_stimuli`` is one pool size or several (default max(n_trials, 40)); the
    i-th cell, participants varying fastest, uses ``runs.seed + i``.

    Returns
    -------
    DataFrame, one row per cell, columns as the dict of ``simulate_power``.
    """
    model = PowerModel.from_accuracies(baseline, difference, sd_participant, sd_stimulus, design)
    pools = [n_stimuli or max(n_trials, 40)] if not isinstance(n_stimuli, Sequence) else n_stimuli
    return power_grid(
        model,
        n_participants,
        [int(s) for s in pools],
        trials=n_trials,
        runs=runs,
    )


def _effect_limit(model: PowerModel, sign: float) -> float:
    """The largest |effect| before the second condition's accuracy saturates."""
    sd = float(np.hypot(model.sd_participant, model.sd_stimulus))
    goal = _ACCURACY_CEILING if sign > 0 else 1 - _ACCURACY_CEILING
    top = optimize.brentq(lambda a: marginal_accuracy(a, sd) - goal, -40.0, 40.0)
    return max(0.0, sign * (top - model.intercept))


def minimal_detectable_effect(
    model: PowerModel,
    *,
    n_participants: int,
    n_stimuli: int,
    n_trials: int,
    target: float = 0.8,
    steps: int = 8,
    runs: PowerRuns = PowerRuns(),
) -> dict[str, float | int | str]:
    """Smallest condition effect whose simulated power reaches ``target``.

    Bisection over |effect| (log-odds, in the direction of ``model.effect``;
    positive when it is 0) between 0 and the effect at which the second
    condition's accuracy reaches 99.5%, ``steps`` halvings. Every evaluation uses
    the same ``runs.seed`` (common random numbers), so the estimated power is
    nearly monotone in the effect and the search does not chase Monte Carlo noise.

    Returns
    -------
    dict with the design, ``target``, ``effect`` (log-odds; NaN if even the
    largest effect falls short), ``effect_resolution`` (the final bracket width),
    ``odds_ratio``, ``baseline``, ``difference`` (marginal accuracy difference),
    and ``power`` at the returned effect.
    """
    if not 0 < target < 1:
        raise ValueError(f"target power must lie in (0, 1), got {target}")
    sign = -1.0 if model.effect < 0 else 1.0
    cell = {"n_participants": n_participants, "n_trials": n_trials, "n_stimuli": n_stimuli}
    quiet = dataclasses.replace(runs, progress=False)  # one bar for the search, none per step

    def power(size: float) -> float:
        rejected, _ = _rejections(model.with_effect(sign * size), **cell, runs=quiet)
        return rejected / runs.n_sims

    low, high = 0.0, _effect_limit(model, sign)
    best = power(high)
    bar = tqdm(total=steps, desc=f"MDE n={n_participants}", disable=not runs.progress, leave=False)
    for _ in range(steps if best >= target else 0):
        middle = (low + high) / 2
        at_middle = power(middle)
        if at_middle >= target:
            high, best = middle, at_middle
        else:
            low = middle
        bar.update()
    bar.close()
    found = model.with_effect(sign * high).describe()
    reached = best >= target
    return {
        **cell,
        "n_sims": runs.n_sims,
        "alpha": runs.alpha,
        "method": runs.method,
        "seed": runs.seed,
        "design": model.design,
        "target": target,
        "effect": found["effect"] if reached else np.nan,
        "effect_resolution": high - low if reached else np.nan,
        "odds_ratio": found["odds_ratio"] if reached else np.nan,
        "baseline": found["baseline"],
        "difference": found["difference"] if reached else np.nan,
        "power": best,
    }


def mde_table(
    model: PowerModel,
    participants: Sequence[int],
    stimuli: Sequence[int],
    *,
    trials: int | None = None,
    share: float | None = None,
    target: float = 0.8,
    steps: int = 8,
    runs: PowerRuns = PowerRuns(progress=True),
) -> pd.DataFrame:
    """``minimal_detectable_effect`` for every (participants, stimuli) pair of the grid
    (cells as ``power_grid``; cell i uses ``runs.seed + i``).

    Returns
    -------
    DataFrame, one row per cell, columns as the dict of ``minimal_detectable_effect``.
    """
    return _over_grid(
        partial(minimal_detectable_effect, model, target=target, steps=steps),
        participants,
        stimuli,
        trials=trials,
        share=share,
        runs=runs,
        desc="MDE grid",
    )
