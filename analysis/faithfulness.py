"""Does participants' accuracy depend on how faithful each stimulus's explanation is?

The per-stimulus faithfulness numbers of the bundle (export columns ``faith_*``) enter
the forward-simulation accuracy model as a covariate, one measure at a time::

    answer_correct ~ condition + covariates + f + (1 | participant) + (1 | stimulus)

``f`` is the deletion AOPC standardised across the stimuli (each stimulus counted
once, so the coefficient is the change in log-odds per standard deviation of the
stimulus set, whatever the trial counts), or ``decision kept`` entered as 0/1.
A likelihood-ratio test compares the model with and without ``f`` on the same trials
(R: ``anova(glmer(... ), glmer(... + f))``); ``tests/analysis/test_faithfulness_lme4.py``
checks the estimates against ``lme4::glmer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from statsmodels.stats.proportion import proportion_confint

from analysis._errors import NotEnoughData
from analysis._wald import combination_df, t_quantile
from analysis.glmm import CrossedGLMMResult, fit_crossed_glmm
from analysis.marginal import likelihood_ratio_test
from contracts import export_format as ef

# Export column -> how the report names it. Numeric measures are standardised.
MEASURES: dict[str, str] = {
    "faith_deletion_aopc": "deletion AOPC",
    "faith_decision_kept": "decision kept",
}
_CONTRACT_TYPES = {col.name: col.dtype for col in ef.TRIAL_COLUMNS}
TERM = "faithfulness"  # the covariate's name in the model (its column in the model data)


@dataclass(frozen=True)
class FaithfulnessFit:
    """The accuracy model with one faithfulness measure, and without it, on the same trials.

    ``mean`` and ``sd`` are those of the measure across the stimuli (the standardisation
    of a numeric measure; for a boolean measure, the share of stimuli where it holds).
    """

    column: str
    standardised: bool
    mean: float
    sd: float
    n_stimuli: int
    data: pd.DataFrame  # the modelled trials, with the covariate in column TERM
    full: CrossedGLMMResult
    reduced: CrossedGLMMResult

    def predict(
        self, condition: str | None, value: np.ndarray, at: dict[str, float]
    ) -> pd.DataFrame:
        """Model probability (random effects at zero, other covariates at ``at``) at raw
        measure values; columns ``value``, ``probability``, ``ci_low``, ``ci_high``
        (95% Wald t on the between-within df, log-odds scale, back-transformed)."""
        coef = self.full.coefficients
        x = np.zeros((len(value), len(coef)))
        covariate = (value - self.mean) / self.sd if self.standardised else value
        for j, term in enumerate(coef["term"]):
            if term == "Intercept":
                x[:, j] = 1.0
            elif term == TERM:
                x[:, j] = covariate
            elif term.startswith("condition["):
                x[:, j] = float(term == f"condition[{condition}]")
            else:
                x[:, j] = at[term]
        eta = x @ coef["estimate"].to_numpy()
        se = np.sqrt(np.einsum("ij,jk,ik->i", x, self.full.cov, x))
        df = coef["df"].to_numpy()
        q = t_quantile(np.array([combination_df(df, row) for row in x]))
        return pd.DataFrame(
            {
                "value": value,
                "probability": expit(eta),
                "ci_low": expit(eta - q * se),
                "ci_high": expit(eta + q * se),
            }
        )


def measure_scale(data: pd.DataFrame, column: str) -> tuple[float, float, int]:
    """(mean, SD, number) of a measure across the stimuli of ``data``, each counted once.

    Raises NotEnoughData when the measure does not vary: a covariate without variance
    says nothing about accuracy (and cannot be standardised).
    """
    per_stimulus = data.groupby("stimulus")[column].first().astype(float)
    if per_stimulus.nunique() < 2:
        value = per_stimulus.iloc[0] if len(per_stimulus) else float("nan")
        raise NotEnoughData(
            f"{MEASURES.get(column, column)} does not vary across the {len(per_stimulus)} "
            f"stimuli (all {value:g})"
        )
    return float(per_stimulus.mean()), float(per_stimulus.std(ddof=1)), len(per_stimulus)


def faithfulness_fit(
    data: pd.DataFrame,
    *,
    column: str,
    levels: Sequence[str],
    covariates: Sequence[str] = (),
) -> FaithfulnessFit:
    """Fit the accuracy model with and without one faithfulness measure.

    Parameters
    ----------
    data : main forward-simulation trials (``answer_correct``, ``condition``,
        ``participant``, ``stimulus``, ``column``, ``covariates``); trials whose
        stimulus has no value of the measure are left out of both fits.
    column : a ``faith_*`` column; a boolean one enters as 0/1, a numeric one standardised.
    levels : condition levels (first = reference); one level fits no condition term.

    Raises
    ------
    NotEnoughData when no trial has the measure, it does not vary, or a model cannot be fitted.
    """
    present = data.loc[data[column].notna()]
    if present.empty:
        raise NotEnoughData(f"no trial has a {MEASURES.get(column, column)}")
    mean, sd, n_stimuli = measure_scale(present, column)
    # The contract's type, not the frame's: a boolean column with gaps may arrive as objects.
    boolean = _CONTRACT_TYPES.get(column) == "boolean" or pd.api.types.is_bool_dtype(
        present[column]
    )
    raw = present[column].astype(float)
    model_data = present.assign(**{TERM: raw if boolean else (raw - mean) / sd})
    condition = "condition" if len(levels) > 1 else None
    others = [c for c in covariates if c != column]
    full = fit_crossed_glmm(
        model_data, levels=levels, condition=condition, covariates=[*others, TERM]
    )
    reduced = fit_crossed_glmm(model_data, levels=levels, condition=condition, covariates=others)
    return FaithfulnessFit(column, not boolean, mean, sd, n_stimuli, model_data, full, reduced)


def faithfulness_table(fits: Sequence[FaithfulnessFit]) -> pd.DataFrame:
    """One row per measure: its scale, the covariate's coefficient and the LRT.

    Columns: ``measure``, ``coding``, ``n_trials``, ``n_stimuli``, ``stimulus_mean``,
    ``stimulus_sd``, ``estimate`` (log-odds per SD, or kept vs not), ``se``, ``t``,
    ``t_df`` (its between-within df), ``p_value``, ``odds_ratio``, ``or_ci_low``, ``or_ci_high``, ``chi2``, ``df``, ``lrt_p_value``.
    """
    rows = []
    for fit in fits:
        term = fit.full.term(TERM)
        lrt = likelihood_ratio_test(fit.full, fit.reduced, what=fit.column).iloc[0]
        rows.append(
            {
                "measure": MEASURES.get(fit.column, fit.column),
                "coding": "per SD across stimuli" if fit.standardised else "kept (1) vs not (0)",
                "n_trials": fit.full.n_obs,
                "n_stimuli": fit.n_stimuli,
                "stimulus_mean": fit.mean,
                "stimulus_sd": fit.sd,
                **{k: float(term[k]) for k in ("estimate", "se", "t")},
                "t_df": float(term["df"]),
                "p_value": float(term["p_value"]),
                **{k: float(term[k]) for k in ("odds_ratio", "or_ci_low", "or_ci_high")},
                "chi2": float(lrt["chi2"]),
                "df": int(lrt["df"]),
                "lrt_p_value": float(lrt["p_value"]),
            }
        )
    return pd.DataFrame(rows)


def binned_accuracy(data: pd.DataFrame, column: str, n_bins: int = 5) -> pd.DataFrame:
    """Observed accuracy per condition in quantile bins of a measure's stimulus values
    (pooled over conditions, so every condition shares the bins; a two-valued measure
    is binned by value).

    Columns: ``condition``, ``bin``, ``value`` (mean measure in the bin), ``n_trials``,
    ``n_correct``, ``accuracy``, ``ci_low``, ``ci_high`` (95% Wilson, pooled trials).
    """
    values = data[column].astype(float)
    per_stimulus = data.groupby("stimulus")[column].first().astype(float)
    if per_stimulus.nunique() <= 2:  # a boolean measure: each value is its own bin
        bins = values.to_numpy()
    else:
        k = int(min(n_bins, per_stimulus.nunique()))
        edges = np.unique(np.quantile(per_stimulus, np.linspace(0, 1, k + 1)))
        inner = np.searchsorted(edges, values, side="right") - 1
        bins = np.clip(inner, 0, len(edges) - 2)
    grouped = data.assign(bin=bins, **{column: values}).groupby(["condition", "bin"])
    out = grouped.agg(
        value=(column, "mean"),
        n_trials=("answer_correct", "size"),
        n_correct=("answer_correct", "sum"),
    ).reset_index()
    out["accuracy"] = out["n_correct"] / out["n_trials"]
    out["ci_low"], out["ci_high"] = proportion_confint(
        out["n_correct"], out["n_trials"], method="wilson"
    )
    return out
