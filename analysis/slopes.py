"""Choosing the stimulus random-effect structure: maximal where identifiable.

Barr et al. (2013) argue for the maximal random-effect structure the design
justifies: when condition varies within stimulus, its effect may differ between
stimuli, and leaving those slopes out makes tests of condition anti-conservative.
Bates et al. (2015) show that a maximal model is often not supported by the
data (a singular fit); they simplify it step by step. This module does both:

1. ``(1 + condition | stimulus)``, if condition varies within enough stimuli to
   identify the stimulus covariance (more such stimuli than its q(q+1)/2 parameters);
2. if that fit is singular (a variance or a correlation on its boundary), or did
   not converge: ``(1 + condition || stimulus)``, slopes without correlations;
3. if that is singular too: ``(1 | stimulus)``.

Each step taken is logged in words (``SlopeChoice.log``) for the report.

Above ``analysis.glmm.SUBSAMPLE_ABOVE`` participants the steps run on every
k-th participant (2,000 of them) and only the chosen structure is fitted to all
data, which is logged too. Why: one maximal fit of the 20,000-participant
benchmark took 413 s against about 10 s for the intercept model (its dense
stimulus block is (2 n_stimuli)^2 instead of n_stimuli^2 and its
finite-difference Hessian needs 42 evaluations instead of 20), and a singular
maximal fit is thrown away. A subsample that supports the slopes means the
full data do too; one that does not can miss a small slope variance, so the
log says the choice was made on a subsample.
Participant slopes are not fitted: the fitter's speed comes from the participant
block being diagonal (one random intercept per participant), see
``analysis.glmm``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.glmm import SUBSAMPLE_ABOVE, CrossedGLMMResult, fit_crossed_glmm

RANDOM_PARTS = {
    "correlated": "(1 | participant) + (1 + condition | stimulus)",
    "uncorrelated": "(1 | participant) + (1 + condition || stimulus)",
    "intercepts": "(1 | participant) + (1 | stimulus)",
}


@dataclass(frozen=True)
class SlopeChoice:
    """The chosen structure, its fit, and why.

    Attributes
    ----------
    fit : the fit with the chosen structure.
    structure : ``"correlated"``, ``"uncorrelated"`` or ``"intercepts"`` (keys of
        ``RANDOM_PARTS``).
    log : one sentence per step of the choice.
    """

    fit: CrossedGLMMResult
    structure: str
    log: tuple[str, ...]

    @property
    def random_part(self) -> str:
        """The random effects in lme4 notation."""
        return RANDOM_PARTS[self.structure]

    @property
    def slopes(self) -> str | None:
        """The column whose effect varies by stimulus (None: intercepts only)."""
        return None if self.structure == "intercepts" else "condition"

    @property
    def correlated(self) -> bool:
        return self.structure == "correlated"


def _within_stimulus(data: pd.DataFrame, condition: str, stimulus: str) -> int:
    """How many stimuli were seen in more than one condition."""
    return int((data.groupby(stimulus, observed=True)[condition].nunique() > 1).sum())


def _stimulus_problem(fit: CrossedGLMMResult) -> str | None:
    singular = [
        "the stimulus intercept SD"
        if t == "stimulus"
        else f"the by-stimulus SD of the {t[15:]} effect"
        for t in fit.singular_terms
        if t.startswith("stimulus")
    ]
    if singular:
        return f"singular fit ({' and '.join(singular)} estimated at 0)"
    if not fit.converged:
        return "the fit did not converge (" + "; ".join(fit.warnings) + ")"
    return None


# fit(data, slopes column or None, correlated)
Fitter = Callable[[pd.DataFrame, str | None, bool], CrossedGLMMResult]


def fit_maximal(
    data: pd.DataFrame,
    *,
    levels: Sequence[str],
    covariates: Sequence[str] = (),
    condition: str = "condition",
    stimulus: str = "stimulus",
    participant: str = "participant",
) -> SlopeChoice:
    """Fit the maximal identifiable ``(1 + condition | stimulus)`` model, simplified
    (uncorrelated, then intercepts only) while the fit is singular.

    ``data`` has the columns of ``fit_crossed_glmm``; ``levels`` (first =
    reference) must have at least two entries.
    """

    def fit(rows: pd.DataFrame, slopes: str | None, correlated: bool = True) -> CrossedGLMMResult:
        return fit_crossed_glmm(
            rows,
            participant=participant,
            levels=levels,
            covariates=covariates,
            condition=condition,
            stimulus=stimulus,
            stimulus_slopes=slopes,
            correlated=correlated,
        )

    people = data[participant].unique()
    if len(people) <= SUBSAMPLE_ABOVE:
        structure, log, chosen_fit = _choose(data, fit, len(levels), condition, stimulus)
        if chosen_fit is None:
            chosen_fit = fit(data, None)
        return SlopeChoice(chosen_fit, structure, log)
    step = int(np.ceil(len(people) / 2000))
    chosen = data.loc[data[participant].isin(people[::step])]
    # The subsample's fits only choose the structure (its intercept model is not fitted).
    structure, log, _ = _choose(chosen, fit, len(levels), condition, stimulus)
    note = (
        f"The random-effect structure was chosen on every {step}th participant "
        f"({chosen[participant].nunique()} of {len(people)}) for speed, and the chosen model "
        "fitted to all data."
    )
    slopes = None if structure == "intercepts" else condition
    return SlopeChoice(fit(data, slopes, structure == "correlated"), structure, (*log, note))


def _choose(
    data: pd.DataFrame, fit: Fitter, q: int, condition: str, stimulus: str
) -> tuple[str, tuple[str, ...], CrossedGLMMResult | None]:
    """The steps of the choice: (structure, log, its fit; None for intercepts, not fitted)."""
    varying = _within_stimulus(data, condition, stimulus)
    parameters = q * (q + 1) // 2
    if varying <= parameters:
        reason = (
            f"Random slopes of condition by stimulus are not identifiable: condition varies "
            f"within {varying} stimuli, fewer than the {parameters + 1} needed for the "
            f"{parameters} stimulus (co)variances; the model has random intercepts only."
        )
        return "intercepts", (reason,), None
    maximal = fit(data, condition, True)
    problem = _stimulus_problem(maximal)
    if problem is None:
        return (
            "correlated",
            (
                "Following Barr et al. (2013) the random effects are maximal: correlated random "
                "slopes of condition by stimulus (the fit was not singular).",
            ),
            maximal,
        )
    log = (
        "Following Barr et al. (2013) the maximal structure, with correlated random slopes of "
        f"condition by stimulus, was fitted first; it gave a {problem}, so, following Bates et "
        "al. (2015), the slope correlations were removed"
    )
    simpler = fit(data, condition, False)
    problem = _stimulus_problem(simpler)
    if problem is None:
        log += "; the model with uncorrelated slopes was not singular and is the one reported."
        return "uncorrelated", (log,), simpler
    log += (
        f"; that model gave a {problem} too, so the slopes were removed and the model reported "
        "has random intercepts only."
    )
    return "intercepts", (log,), None


def random_effects_table(fit: CrossedGLMMResult) -> pd.DataFrame:
    """Random-effect SDs (log-odds) as lme4's ``VarCorr`` prints them.

    Returns
    -------
    DataFrame with ``group`` (participant/stimulus), ``term`` (Intercept or a slope
    term), ``sd`` and ``corr_intercept`` (correlation with the stimulus intercept;
    empty for intercepts and for uncorrelated slopes).
    """
    rows = [{"group": "participant", "term": "Intercept", "sd": fit.sd_participant}]
    corr = fit.stimulus_correlation
    for k, term in enumerate(fit.stimulus_terms):
        rows.append(
            {
                "group": "stimulus",
                "term": term,
                "sd": float(np.sqrt(fit.stimulus_cov[k, k])),
                "corr_intercept": float(corr[k, 0])
                if k and fit.structure.correlated
                else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["group", "term", "sd", "corr_intercept"])
