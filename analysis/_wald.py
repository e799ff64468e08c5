"""Wald t tests of the crossed mixed models, with between-within degrees of freedom.

The Wald z test that lme4's ``glmer`` summary reports treats estimate / SE as
standard normal. With few participants (or stimuli) carrying an effect it is
too liberal: 6.9% rejections at 5% for a condition between 40 participants
(docs/analysis.md). Here the same ratio is referred to a t distribution whose
denominator degrees of freedom count the units that inform each fixed-effect
column: SAS GLIMMIX's between-within method (DDFM=BW), which Li & Redden (2015,
BMC Med Res Methodol 15:38) found keeps the type-I rate of binary GLMMs near
nominal with few clusters, extended to crossed participant and stimulus factors
and to random slopes (containment). A column of the design X gets

- if it is constant within each participant (the intercept, a between-participant
  condition, a participant covariate): n_participants - rank of those columns;
- if it is constant within each stimulus: n_stimuli - rank of those columns;
- if it has a random slope by stimulus: the stimuli in which it varies, minus 1
  (the slope's variance is estimated from them, like a paired t over stimuli);
- the smallest of these when more than one applies; when none does, the residual
  n_obs - rank(X) - (n_participants - 1) - (n_stimuli - 1).

A linear combination of the columns (a contrast, a marginal mean) gets the
smallest df among the columns it weights (conservative). Estimates and standard
errors are untouched; only the reference distribution changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

# The method as the report's methods text names it.
METHOD = (
    "Wald t tests and t intervals with between-within denominator degrees of freedom "
    "(Li & Redden, 2015; SAS GLIMMIX's DDFM=BW, applied to the crossed participant and "
    "stimulus factors, with containment for random slopes)"
)
# The same, once the report has named it in full.
METHOD_AGAIN = "Wald t tests and t intervals with between-within degrees of freedom, as above"


def _first_rows(groups: np.ndarray) -> np.ndarray:
    """Index of the first observation of each group (codes 0..G-1)."""
    return np.unique(groups, return_index=True)[1]


def _varies(X: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(G, p) bool: does column j take more than one value within group g?"""
    first = X[_first_rows(groups)][groups]
    differs = ~np.isclose(X, first, rtol=1e-10, atol=1e-12)
    n_groups = int(groups.max()) + 1
    return np.stack(
        [np.bincount(groups, differs[:, j], n_groups) > 0 for j in range(X.shape[1])], axis=1
    )


def _level_df(X: np.ndarray, groups: np.ndarray, varies: np.ndarray) -> tuple[np.ndarray, int]:
    """Columns constant within every group, and n_groups - their rank."""
    constant = ~varies.any(axis=0)
    level = X[_first_rows(groups)][:, constant]
    rank = np.linalg.matrix_rank(level) if constant.any() else 0
    return constant, int(len(level) - rank)


def between_within_df(
    X: np.ndarray, pid: np.ndarray, sid: np.ndarray, Z: np.ndarray | None = None
) -> np.ndarray:
    """Denominator df of each column of X by the rule in the module docstring.

    Parameters
    ----------
    X : (n, p) fixed-effect design (with its intercept column).
    pid, sid : (n,) 0-based participant and stimulus codes.
    Z : (n, q) design of the stimulus random effects (column 0 the intercept); a
        column of X equal to one of Z's later columns has a random slope by stimulus.

    Returns
    -------
    (p,) float array, each at least 1.
    """
    by_participant, df_participant = _level_df(X, pid, _varies(X, pid))
    stimulus_varies = _varies(X, sid)
    by_stimulus, df_stimulus = _level_df(X, sid, stimulus_varies)
    residual = len(X) - np.linalg.matrix_rank(X) - pid.max() - sid.max()
    df = np.full(X.shape[1], float(residual))
    for j in range(X.shape[1]):
        candidates = []
        if by_participant[j]:
            candidates.append(df_participant)
        if by_stimulus[j]:
            candidates.append(df_stimulus)
        if Z is not None and any(np.allclose(X[:, j], z) for z in Z[:, 1:].T):
            candidates.append(int(stimulus_varies[:, j].sum()) - 1)
        if candidates:
            df[j] = min(candidates)
    return np.maximum(df, 1.0)


def combination_df(df: np.ndarray, weights: np.ndarray) -> float:
    """df of ``weights @ beta``: the smallest df among the columns it uses."""
    used = np.asarray(weights) != 0
    return float(np.min(np.asarray(df)[used])) if used.any() else float(np.min(df))


def t_quantile(df: np.ndarray | float, level: float = 0.95) -> np.ndarray:
    """Two-sided critical value of a ``level`` interval on ``df`` degrees of freedom."""
    return stats.t.ppf(0.5 + level / 2, df)


def wald_t(estimate: np.ndarray, se: np.ndarray, df: np.ndarray) -> pd.DataFrame:
    """``t`` = estimate / se, ``df``, two-sided ``p_value`` and the 95% ``ci_low``,
    ``ci_high``, one row per entry (index 0..n-1)."""
    estimate, se = np.asarray(estimate, float), np.asarray(se, float)
    df = np.broadcast_to(np.asarray(df, float), estimate.shape)
    t = estimate / se
    q = t_quantile(df)
    return pd.DataFrame(
        {
            "t": t,
            "df": df,
            "p_value": 2 * stats.t.sf(np.abs(t), df),
            "ci_low": estimate - q * se,
            "ci_high": estimate + q * se,
        }
    )
