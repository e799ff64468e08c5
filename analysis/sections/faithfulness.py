"""Accuracy and the faithfulness of the explanations (export columns ``faith_*``).

Each faithfulness measure the bundle recorded enters the shared accuracy model as a
covariate (``analysis.faithfulness``); the section says so plainly when the export
has no faithfulness columns, when no stimulus carries the numbers, or when a measure
does not vary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis import figures
from analysis.faithfulness import (
    MEASURES,
    TERM,
    FaithfulnessFit,
    binned_accuracy,
    faithfulness_fit,
    faithfulness_table,
)
from analysis.marginal import covariate_means
from analysis.sections.base import Context, Section, attempt
from analysis.sections.forward_model import forward_model
from analysis.text import format_ci, format_number, format_p, format_t

_TITLE = "Accuracy and the faithfulness of the explanations"


def faithfulness_section(ctx: Context) -> Section:
    """One covariate model per faithfulness measure, its table, figure and sentences."""
    sec = Section(
        "faithfulness",
        _TITLE,
        "Does a participant answer correctly more often when the explanation is faithful to "
        "the model? Faithfulness per stimulus as the bundle records it: the deletion AOPC "
        "(how fast the model's confidence falls as the most relevant regions are removed) and "
        "whether the model keeps its decision on the audible heatmap played back to it.",
    )
    columns = [c for c in MEASURES if c in ctx.export.trials.columns]
    if not columns:
        sec.notes.append("skipped: the export has no faithfulness columns (faith_*)")
        return sec
    if ctx.forward.empty or ctx.forward[columns].isna().all().all():
        sec.notes.append(
            "skipped: no forward-simulation trial has faithfulness numbers (the bundle had none)"
        )
        return sec
    model = attempt(sec, "faithfulness models", lambda: forward_model(ctx))
    if model is None:
        return sec
    data = ctx.forward.loc[ctx.forward["condition"].isin(model.levels)]
    fits = [
        fit
        for column in columns
        if (
            fit := attempt(
                sec,
                MEASURES[column],
                lambda c=column: faithfulness_fit(
                    data, column=c, levels=model.levels, covariates=model.covariates
                ),
            )
        )
        is not None
    ]
    if fits:
        _report(ctx, sec, fits, list(model.levels))
    return sec


def _report(ctx: Context, sec: Section, fits: list[FaithfulnessFit], levels: list[str]) -> None:
    table = faithfulness_table(fits)
    sec.tables["faithfulness_models"] = table
    ctx.summary["faithfulness"] = table.to_dict(orient="records")
    panels = [_panel(fit, levels) for fit in fits]
    sec.figure = figures.faithfulness_figure(
        panels, levels, ctx.figures_dir / "accuracy_by_faithfulness.png"
    ).name
    sec.caption = (
        "Open points: observed accuracy of forward-simulation trials per condition, in quantile "
        "bins of the stimuli's deletion AOPC or by whether the decision was kept (95% Wilson "
        "intervals on pooled trials, descriptive only). Lines and filled squares: probability of "
        "a correct answer from the logistic mixed model with the measure as covariate (random "
        "effects at zero, other covariates at their means), with 95% Wald t bands (between-within "
        "degrees of freedom)."
    )
    sec.methods.append(_methods(fits))
    sec.results.extend(_sentence(row, ctx.options.alpha) for row in table.to_dict("records"))


def _panel(fit: FaithfulnessFit, levels: list[str]) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    observed = binned_accuracy(fit.data, fit.column)
    raw = fit.data[fit.column].astype(float)
    grid = np.linspace(raw.min(), raw.max(), 60) if fit.standardised else np.array([0.0, 1.0])
    others = [t for t in fit.full.coefficients["term"] if t not in ("Intercept", TERM)]
    at = covariate_means(fit.data, [t for t in others if not t.startswith("condition[")])
    fitted = pd.concat(
        [fit.predict(level, grid, at).assign(condition=level) for level in levels],
        ignore_index=True,
    )
    axis = (
        "deletion AOPC of the stimulus's explanation"
        if fit.standardised
        else "model's decision on the audible heatmap"
    )
    return axis, observed, fitted


def _methods(fits: list[FaithfulnessFit]) -> str:
    parts = []
    for fit in fits:
        if fit.standardised:
            parts.append(
                f"the {MEASURES[fit.column]}, standardised across the {fit.n_stimuli} stimuli "
                f"(M = {format_number(fit.mean, 3)}, SD = {format_number(fit.sd, 3)}; "
                "coefficients are per SD)"
            )
        else:
            parts.append(
                f"whether the model's decision was kept on the audible heatmap (0/1; kept for "
                f"{format_number(100 * fit.mean, 0)}% of the {fit.n_stimuli} stimuli)"
            )
    return (
        "The faithfulness of each stimulus's explanation was related to forward-simulation "
        "accuracy by adding it as a covariate to the accuracy model, one measure at a time: "
        + " and ".join(parts)
        + ". Each model was compared with the same model without the covariate on the same "
        "trials by a likelihood-ratio test (table faithfulness_models)."
    )


def _sentence(row: dict[str, Any], alpha: float) -> str:
    standardised = row["coding"].startswith("per SD")
    stats = (
        f"OR = {format_number(row['odds_ratio'])}"
        + (" per SD" if standardised else " (kept vs not kept)")
        + f", {format_ci(row['or_ci_low'], row['or_ci_high'])}, "
        f"{format_t(row['t'], row['t_df'])}, "
        f"{format_p(row['p_value'])}; χ²({row['df']}) = {format_number(row['chi2'])}, "
        f"{format_p(row['lrt_p_value'])}"
    )
    if row["lrt_p_value"] < alpha:
        what = (
            f"a higher {row['measure']}"
            if standardised
            else "the model's decision kept on the audible heatmap"
        )
        direction = "higher" if row["estimate"] > 0 else "lower"
        return (
            f"Accuracy was {direction} on stimuli with {what}, {stats} (table faithfulness_models)."
        )
    subject = (
        f"the {row['measure']}"
        if standardised
        else "whether the model's decision was kept on the audible heatmap"
    )
    return (
        f"Accuracy showed no reliable relation to {subject}, {stats} (table faithfulness_models)."
    )
