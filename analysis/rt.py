"""Response times: summaries and a log-RT linear mixed model by condition.

The model is ``log(rt_ms) ~ condition + (1 | participant)`` fitted by REML with
statsmodels ``MixedLM`` (a random intercept per participant; stimulus variation is
left in the residual, which is reasonable when, as here, every condition sees the
same pool of stimuli). Coefficients are differences in mean log RT, reported also
as ratios of geometric-mean RTs (``exp(estimate)``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from analysis._checks import check_columns
from analysis._contrasts import condition_levels
from analysis._errors import NotEnoughData

Z95 = float(stats.norm.ppf(0.975))


def rt_summary(trials: pd.DataFrame, *, condition: str = "condition", rt: str = "rt_ms") -> pd.DataFrame:
    """Per condition: ``n``, ``median_ms``, ``q1_ms``, ``q3_ms``, ``geometric_mean_ms``."""
    check_columns(trials, {condition: "any", rt: "numeric"}, where="trials")
    data = trials.loc[trials[rt] > 0]
    grouped = data.groupby(condition)[rt]
    out = pd.DataFrame({"n": grouped.size(), "median_ms": grouped.median(), "q1_ms": grouped.quantile(0.25),
                        "q3_ms": grouped.quantile(0.75),
                        "geometric_mean_ms": np.exp(np.log(data[rt]).groupby(data[condition]).mean())})
    return out.reset_index().rename(columns={condition: "condition"})


@dataclass(frozen=True)
class LogRTResult:
    """Fitted log-RT mixed model.

    ``coefficients``: ``term``, ``estimate`` (log ms), ``se``, ``z``, ``p_value``,
    ``ci_low``, ``ci_high``, ``ratio`` (= exp(estimate): geometric-mean RT ratio to
    the reference condition; for the intercept, the reference geometric mean in
    ms), ``ratio_ci_low``, ``ratio_ci_high``.
    """

    coefficients: pd.DataFrame
    sd_participant: float
    sd_residual: float
    n_obs: int
    n_participants: int
    levels: tuple[str, ...]
    converged: bool


def fit_log_rt_model(trials: pd.DataFrame, *, condition: str = "condition", rt: str = "rt_ms",
                     participant: str = "participant", levels: Sequence[str] | None = None) -> LogRTResult:
    """REML fit of ``log(rt) ~ condition + (1 | participant)`` (statsmodels MixedLM)."""
    check_columns(trials, {condition: "any", rt: "numeric", participant: "any"}, where="trials")
    data = trials.loc[trials[rt] > 0].sort_values(participant, kind="stable")
    levels = list(levels) if levels else condition_levels(data[condition])
    if len(levels) < 2 or data[participant].nunique() < 4 or len(data) < 20:
        raise NotEnoughData("log-RT model needs two conditions, four participants and 20 trials")
    values = data[condition].astype(str)
    design = pd.DataFrame({"Intercept": 1.0}, index=data.index)
    for level in levels[1:]:
        design[f"condition[{level}]"] = (values == level).astype(float)
    model = sm.MixedLM(np.log(data[rt].to_numpy(float)), design, groups=pd.factorize(data[participant])[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = model.fit(reml=True)
    p = design.shape[1]
    beta, se = fit.fe_params.to_numpy(), fit.bse_fe.to_numpy()[:p]
    z = beta / se
    table = pd.DataFrame({"term": list(design.columns), "estimate": beta, "se": se, "z": z,
                          "p_value": 2 * stats.norm.sf(np.abs(z)),
                          "ci_low": beta - Z95 * se, "ci_high": beta + Z95 * se})
    table["ratio"], table["ratio_ci_low"], table["ratio_ci_high"] = (
        np.exp(table[c]) for c in ("estimate", "ci_low", "ci_high"))
    return LogRTResult(table, float(np.sqrt(fit.cov_re.iloc[0, 0])), float(np.sqrt(fit.scale)), len(data),
                       int(data[participant].nunique()), tuple(levels),
                       bool(fit.converged) and not any("converge" in str(w.message).lower() for w in caught))
