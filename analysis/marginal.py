"""What a reader asks of a fitted logistic model: probabilities, adjusted contrasts,
equivalence and likelihood-ratio tests.

``marginal_means`` and ``adjusted_contrasts`` give what R's ``emmeans`` gives for a
``glmer`` fit (``emmeans(m, ~ condition, type = "response")`` and
``pairs(..., adjust = "holm" | "tukey")``): each condition's probability with the
random effects at zero and numeric covariates at their means, a delta-method SE
and the 95% interval back-transformed from the logit scale; pairwise odds ratios
with step-down Holm or Tukey (studentized range) adjusted p-values. Unlike
emmeans for ``glmer`` (asymptotic, df = Inf), intervals and tests use t on the
between-within df of ``analysis._wald`` (a mean or contrast: the smallest df of
the terms it weights). Checked against emmeans given the same df
(``emmeans(..., df = )``) in ``tests/analysis/test_marginal_r.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit
from statsmodels.stats.multitest import multipletests

from analysis._wald import combination_df, t_quantile
from analysis.glmm import CrossedGLMMResult, glmm_contrasts

Adjustment = Literal["holm", "tukey", "none"]


def _grid_vector(
    fit: CrossedGLMMResult, level: str, at: Mapping[str, float], condition: str
) -> np.ndarray:
    """Coefficient weights of one reference-grid row (condition level, covariates at ``at``)."""
    vec = np.zeros(len(fit.coefficients))
    for i, term in enumerate(fit.coefficients["term"]):
        if term == "Intercept":
            vec[i] = 1.0
        elif term == f"{condition}[{level}]":
            vec[i] = 1.0
        elif not term.startswith(f"{condition}["):
            if term not in at:
                raise ValueError(f"marginal means: give the value of covariate {term!r} in 'at'")
            vec[i] = at[term]
    return vec


def marginal_means(
    fit: CrossedGLMMResult, *, at: Mapping[str, float] | None = None, condition: str = "condition"
) -> pd.DataFrame:
    """Model-based probability of a correct answer per condition.

    Parameters
    ----------
    fit : a crossed GLMM with treatment-coded ``condition``.
    at : value of each numeric covariate (emmeans uses the covariate's mean).

    Returns
    -------
    DataFrame with ``condition``, ``log_odds``, ``log_odds_se``, ``probability``,
    ``se`` (delta method), ``df`` (between-within), ``ci_low``, ``ci_high`` (95% t,
    back-transformed).
    """
    rows = []
    for level in fit.levels or ("(all)",):
        vec = _grid_vector(fit, level, at or {}, condition)
        eta = float(vec @ fit.coefficients["estimate"].to_numpy())
        se = float(np.sqrt(vec @ fit.cov @ vec))
        df = combination_df(fit.coefficients["df"].to_numpy(), vec)
        q = float(t_quantile(df))
        prob = float(expit(eta))
        rows.append(
            {
                "condition": level,
                "log_odds": eta,
                "log_odds_se": se,
                "probability": prob,
                "se": prob * (1 - prob) * se,
                "df": df,
                "ci_low": float(expit(eta - q * se)),
                "ci_high": float(expit(eta + q * se)),
            }
        )
    return pd.DataFrame(rows)


def adjust_p(
    p_values: np.ndarray, t: np.ndarray, df: np.ndarray, n_levels: int, method: Adjustment
) -> np.ndarray:
    """Adjusted p-values of a family of pairwise t tests (``df`` each) among
    ``n_levels`` means."""
    if len(p_values) <= 1 or method == "none":
        return np.asarray(p_values, float)
    if method == "holm":
        return multipletests(p_values, method="holm")[1]
    if method == "tukey":
        return stats.studentized_range.sf(np.sqrt(2.0) * np.abs(t), n_levels, df)
    raise ValueError(f"unknown adjustment {method!r}; choose holm, tukey or none")


def adjusted_contrasts(
    fit: CrossedGLMMResult, *, adjust: Adjustment = "holm", condition: str = "condition"
) -> pd.DataFrame:
    """Every pairwise odds ratio (``b`` over ``a``) with adjusted p-values.

    Returns
    -------
    ``glmm_contrasts`` columns plus ``p_adjusted`` and ``adjustment`` (the method
    named only when more than one pair made it matter, else "none").
    """
    out = glmm_contrasts(fit, condition=condition)
    method = adjust if len(out) > 1 else "none"
    out["p_adjusted"] = adjust_p(
        out["p_value"].to_numpy(),
        out["t"].to_numpy(),
        out["df"].to_numpy(),
        len(fit.levels),
        method,
    )
    out["adjustment"] = method
    return out


def equivalence_test(
    estimate: float, se: float, bound: float, df: float = np.inf
) -> dict[str, float]:
    """Two one-sided t tests (TOST, ``df`` degrees of freedom; inf: z tests) of
    |estimate| < ``bound`` on the log-odds scale.

    Returns ``p_value`` (the larger one-sided p), ``ci90_low``, ``ci90_high`` (the
    90% interval: equivalence at 5% holds exactly when it lies inside +-bound).
    """
    if bound <= 0:
        raise ValueError("equivalence bound must be positive")
    p_low = stats.t.sf((estimate + bound) / se, df)
    p_high = stats.t.cdf((estimate - bound) / se, df)
    q = float(t_quantile(df, 0.90))
    return {
        "bound": bound,
        "p_value": float(max(p_low, p_high)),
        "ci90_low": estimate - q * se,
        "ci90_high": estimate + q * se,
    }


def likelihood_ratio_test(
    full: CrossedGLMMResult, reduced: CrossedGLMMResult, *, what: str
) -> pd.DataFrame:
    """Likelihood-ratio chi-square test of nested fits (R's ``anova(reduced, full)``).

    Returns
    -------
    One-row DataFrame with ``test``, ``df``, ``chi2``, ``p_value``, ``loglik_reduced``,
    ``loglik_full``.
    """
    df = len(full.coefficients) - len(reduced.coefficients)
    if df <= 0 or full.n_obs != reduced.n_obs:
        raise ValueError("likelihood-ratio test needs nested fits to the same trials")
    chi2 = max(0.0, 2.0 * (full.loglik - reduced.loglik))
    return pd.DataFrame(
        [
            {
                "test": what,
                "df": df,
                "chi2": chi2,
                "p_value": float(stats.chi2.sf(chi2, df)),
                "loglik_reduced": reduced.loglik,
                "loglik_full": full.loglik,
            }
        ]
    )


def covariate_means(data: pd.DataFrame, covariates: Sequence[str]) -> dict[str, float]:
    """Each covariate's mean: where emmeans puts a numeric covariate by default."""
    return {name: float(data[name].astype(float).mean()) for name in covariates}
