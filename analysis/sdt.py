"""Hierarchical probit signal detection for verification trials (DeCarlo 1998).

DeCarlo (1998) writes equal-variance signal detection as a probit regression:
P("yes") = Phi(d' s - c) with s = +1/2 on signal trials (the model was right)
and -1/2 on noise trials. With conditions and crossed random criteria this is ::

    says_yes ~ condition * signal + (1 | participant) + (1 | stimulus),
    family = binomial(link = "probit")

so that for condition k, d'_k = b_signal + b_{condition[k]:signal} and
c_k = -(b_0 + b_{condition[k]}); the coefficient of ``condition[k]:signal`` is
the difference in d' from the reference condition, tested by its Wald t (the
between-within df of ``analysis._wald``; these columns vary within participants
and within stimuli, so their df is the residual one, in effect a z test). The
random intercepts let the criterion vary between participants and between
stimuli (a stimulus that sounds convincing draws more "yes"). d' does not vary
by participant here (that needs participant slopes, which the fitter does not
have, see ``analysis.slopes``), and signal is a property of the stimulus, so
it cannot vary within a stimulus.

Fitted by ``analysis.glmm.fit_crossed_glmm(link="probit")``; validated against
``glmer(..., family = binomial(link = "probit"))`` in ``tests/analysis/test_sdt_r.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._checks import check_columns
from analysis._contrasts import contrast_table
from analysis._wald import combination_df, t_quantile
from analysis.glmm import CrossedGLMMResult, fit_crossed_glmm

FORMULA = (
    "says_yes ~ condition * signal + (1 | participant) + (1 | stimulus), "
    'binomial(link = "probit"), signal = +1/2 (model right) or -1/2 (model wrong)'
)


@dataclass(frozen=True)
class SDTResult:
    """The probit fit and its d'/c summaries.

    Attributes
    ----------
    fit : the probit crossed GLMM (terms ``Intercept``, ``condition[k]``,
        ``signal``, ``dprime[k]`` = condition[k]:signal).
    by_condition : per condition ``condition``, ``dprime``, ``dprime_se``,
        ``dprime_df``, ``dprime_ci_low``, ``dprime_ci_high``, ``criterion``,
        ``criterion_se``, ``criterion_df``, ``criterion_ci_low``, ``criterion_ci_high``
        (95% t intervals on the between-within df).
    differences : per pair of conditions ``a``, ``b``, ``dprime_difference``
        (b - a), ``se``, ``t``, ``df``, ``p_value``, ``ci_low``, ``ci_high``.
    """

    fit: CrossedGLMMResult
    by_condition: pd.DataFrame
    differences: pd.DataFrame


def sdt_columns(trials: pd.DataFrame) -> pd.DataFrame:
    """Verification trials with ``says_yes`` (bool) and ``signal`` (+-1/2)."""
    check_columns(trials, ["answer", "model_correct"], where="verification trials")
    return trials.assign(
        says_yes=trials["answer"].astype(str).str.lower().eq("yes"),
        signal=np.where(trials["model_correct"].astype(bool), 0.5, -0.5),
    )


def _combination(terms: list[str], names: Sequence[str], sign: float) -> np.ndarray:
    vec = np.zeros(len(terms))
    for name in names:
        vec[terms.index(name)] = sign
    return vec


def fit_sdt(trials: pd.DataFrame, *, levels: Sequence[str]) -> SDTResult:
    """Fit the hierarchical probit SDT model to verification trials.

    ``trials`` has ``participant``, ``stimulus``, ``condition``, ``answer``
    ("yes"/"no") and ``model_correct``; ``levels`` orders the conditions (first =
    reference). Raises NotEnoughData when the model cannot be identified.
    """
    data = sdt_columns(trials)
    levels = list(levels)
    products = [f"dprime[{lv}]" for lv in levels[1:]]
    for lv, name in zip(levels[1:], products, strict=True):
        data[name] = (data["condition"].astype(str) == lv) * data["signal"]
    fit = fit_crossed_glmm(
        data,
        outcome="says_yes",
        condition="condition" if len(levels) > 1 else None,
        covariates=["signal", *products],
        levels=levels if len(levels) > 1 else None,
        link="probit",
    )
    terms = list(fit.coefficients["term"])
    beta = fit.coefficients["estimate"].to_numpy()
    df = fit.coefficients["df"].to_numpy()
    rows = []
    for i, lv in enumerate(levels):
        extra = [] if i == 0 else [f"condition[{lv}]"]
        d_vec = _combination(terms, ["signal", *([f"dprime[{lv}]"] if i else [])], 1.0)
        c_vec = _combination(terms, ["Intercept", *extra], -1.0)
        row = {"condition": lv}
        for key, vec in (("dprime", d_vec), ("criterion", c_vec)):
            est, se = float(vec @ beta), float(np.sqrt(vec @ fit.cov @ vec))
            row_df = combination_df(df, vec)
            q = float(t_quantile(row_df))
            row |= {
                key: est,
                f"{key}_se": se,
                f"{key}_df": row_df,
                f"{key}_ci_low": est - q * se,
                f"{key}_ci_high": est + q * se,
            }
        rows.append(row)
    differences = (
        contrast_table(beta, fit.cov, terms, levels, None, df=df, prefix="dprime")
        .rename(columns={"log_or": "dprime_difference"})
        .drop(columns=["odds_ratio", "or_ci_low", "or_ci_high"])
    )
    return SDTResult(fit, pd.DataFrame(rows), differences)
