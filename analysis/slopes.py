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
Participant slopes are not fitted: the fitter's speed comes from the participant
block being diagonal (one random intercept per participant), see
``analysis.glmm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.glmm import CrossedGLMMResult, fit_crossed_glmm

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
    singular = [t for t in fit.singular_terms if t.startswith("stimulus")]
    if singular:
        return f"singular fit ({', '.join(singular)} on the boundary)"
    if not fit.converged:
        return "the fit did not converge (" + "; ".join(fit.warnings) + ")"
    return None


def fit_maximal(
    data: pd.DataFrame,
    *,
    levels: Sequence[str],
    covariates: Sequence[str] = (),
    condition: str = "condition",
    stimulus: str = "stimulus",
) -> SlopeChoice:
    """Fit the maximal identifiable ``(1 + condition | stimulus)`` model, simplified
    (uncorrelated, then intercepts only) while the fit is singular.

    ``data`` has the columns of ``fit_crossed_glmm``; ``levels`` (first =
    reference) must have at least two entries.
    """
    q = len(levels)

    def fit(slopes: str | None, correlated: bool = True) -> CrossedGLMMResult:
        return fit_crossed_glmm(
            data,
            levels=levels,
            covariates=covariates,
            condition=condition,
            stimulus=stimulus,
            stimulus_slopes=slopes,
            correlated=correlated,
        )

    varying = _within_stimulus(data, condition, stimulus)
    parameters = q * (q + 1) // 2
    if varying <= parameters:
        reason = (
            f"Random slopes of condition by stimulus are not identifiable: condition varies "
            f"within {varying} stimuli, fewer than the {parameters + 1} needed for the "
            f"{parameters} stimulus (co)variances; the model has random intercepts only."
        )
        return SlopeChoice(fit(None), "intercepts", (reason,))
    log = []
    maximal = fit(condition)
    problem = _stimulus_problem(maximal)
    if problem is None:
        log.append(
            "The maximal model with correlated random slopes of condition by stimulus "
            "was supported by the data (no singular fit)."
        )
        return SlopeChoice(maximal, "correlated", tuple(log))
    log.append(
        f"The maximal model {RANDOM_PARTS['correlated']} gave a {problem}; following Bates et "
        "al. (2015) the slope correlations were removed."
    )
    if q > 1:
        simpler = fit(condition, correlated=False)
        problem = _stimulus_problem(simpler)
        if problem is None:
            log.append("The model with uncorrelated random slopes was not singular and is used.")
            return SlopeChoice(simpler, "uncorrelated", tuple(log))
        log.append(
            f"The model with uncorrelated slopes gave a {problem} too; the random slopes were "
            "removed (random intercepts only)."
        )
    return SlopeChoice(fit(None), "intercepts", tuple(log))


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
