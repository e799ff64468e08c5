"""Response times: summaries and a log-RT linear mixed model by condition.

The model is ``log(rt_ms) ~ condition + (1 | participant) + (1 | stimulus)``,
fitted by REML with crossed random intercepts (``analysis.lmm``, which agrees
with ``lme4::lmer``). Coefficients are differences in mean log RT, reported also
as ratios of geometric-mean RTs (``exp(estimate)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis._checks import check_columns
from analysis._contrasts import condition_levels
from analysis._errors import NotEnoughData
from analysis.lmm import fit_crossed_lmm


def rt_summary(
    trials: pd.DataFrame, *, condition: str = "condition", rt: str = "rt_ms"
) -> pd.DataFrame:
    """Per condition: ``n``, ``median_ms``, ``q1_ms``, ``q3_ms``, ``geometric_mean_ms``."""
    check_columns(trials, {condition: "any", rt: "numeric"}, where="trials")
    data = trials.loc[trials[rt] > 0]
    grouped = data.groupby(condition)[rt]
    out = pd.DataFrame(
        {
            "n": grouped.size(),
            "median_ms": grouped.median(),
            "q1_ms": grouped.quantile(0.25),
            "q3_ms": grouped.quantile(0.75),
            "geometric_mean_ms": np.exp(np.log(data[rt]).groupby(data[condition]).mean()),
        }
    )
    return out.reset_index().rename(columns={condition: "condition"})


@dataclass(frozen=True)
class LogRTResult:
    """Fitted log-RT mixed model.

    ``coefficients``: ``term``, ``estimate`` (log ms), ``se``, ``t``, ``df``, ``p_value``,
    ``ci_low``, ``ci_high``, ``ratio`` (= exp(estimate): geometric-mean RT ratio to
    the reference condition; for the intercept, the reference geometric mean in
    ms), ``ratio_ci_low``, ``ratio_ci_high``. SDs are on the log-ms scale.
    """

    coefficients: pd.DataFrame
    sd_participant: float
    sd_stimulus: float
    sd_residual: float
    n_obs: int
    n_participants: int
    levels: tuple[str, ...]
    converged: bool


def fit_log_rt_model(
    trials: pd.DataFrame,
    *,
    condition: str = "condition",
    rt: str = "rt_ms",
    participant: str = "participant",
    stimulus: str = "stimulus",
    levels: Sequence[str] | None = None,
) -> LogRTResult:
    """REML fit of ``log(rt) ~ condition + (1 | participant) + (1 | stimulus)``.

    Trials without a positive response time are left out.
    """
    check_columns(
        trials,
        {condition: "any", rt: "numeric", participant: "any", stimulus: "any"},
        where="trials",
    )
    data = trials.loc[trials[rt] > 0]
    levels = list(levels) if levels else condition_levels(data[condition])
    if len(levels) < 2 or data[participant].nunique() < 4 or len(data) < 20:
        raise NotEnoughData("log-RT model needs two conditions, four participants and 20 trials")
    data = data.assign(_log_rt=np.log(data[rt].to_numpy(float)))
    fit = fit_crossed_lmm(
        data,
        outcome="_log_rt",
        condition=condition,
        participant=participant,
        stimulus=stimulus,
        levels=levels,
    )
    table = fit.coefficients.copy()
    table["ratio"], table["ratio_ci_low"], table["ratio_ci_high"] = (
        np.exp(table[c]) for c in ("estimate", "ci_low", "ci_high")
    )
    return LogRTResult(
        table,
        fit.sd_participant,
        fit.sd_stimulus,
        fit.sd_residual,
        fit.n_obs,
        fit.n_participants,
        fit.levels,
        fit.converged,
    )
