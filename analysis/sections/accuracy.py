"""Forward-simulation accuracy: counts per condition and the model's probabilities."""

from __future__ import annotations

import pandas as pd

from analysis import figures
from analysis.compare import participant_accuracy
from analysis.descriptive import accuracy_by_condition
from analysis.marginal import marginal_means
from analysis.sections.base import Context, Section, attempt
from analysis.sections.forward_model import ForwardModel, forward_model
from analysis.text import format_ci, format_percent


def chance_level(trials: pd.DataFrame) -> tuple[float, int] | None:
    """1 / number of answer options of the forward task, counted from the labels the
    study used (true, predicted and answered classes of its main forward trials)."""
    forward = trials.loc[(trials["trial_kind"] == "main") & (trials["task"] == "forward")]
    labels = set()
    for column in ("true_label", "predicted_label", "answer"):
        labels |= set(forward[column].dropna().astype(str)) - {""}
    return (1.0 / len(labels), len(labels)) if len(labels) >= 2 else None


def accuracy_section(ctx: Context) -> Section:
    """Counts per condition, model-based probabilities, and the figure of both."""
    sec = Section(
        "accuracy",
        "Forward-simulation accuracy by condition",
        "Share of main forward-simulation trials whose answer equals the model's prediction. "
        "The counts table pools trials (descriptive only); inference uses the mixed model.",
    )
    if ctx.forward.empty:
        sec.notes.append("no forward-simulation trials after exclusions: not estimable")
        return sec
    counts = accuracy_by_condition(ctx.forward)
    sec.tables["accuracy_by_condition"] = counts
    overall = counts.loc[counts["model_correct"] == "all"]
    ctx.summary["accuracy"] = overall.drop(columns="model_correct").to_dict(orient="records")
    sec.methods.append(
        "Forward-simulation accuracy is the share of answers equal to the model's prediction; "
        "counts per condition are given with 95% Wilson intervals on pooled trials, which ignore "
        "clustering and are descriptive only (table accuracy_by_condition)."
    )
    model = attempt(sec, "model-based accuracy", lambda: forward_model(ctx))
    if model is not None:
        _model_part(ctx, sec, model)
    return sec


def _model_part(ctx: Context, sec: Section, model: ForwardModel) -> None:
    means = marginal_means(model.fit, at=model.at)
    sec.tables["accuracy_model"] = means
    ctx.summary["accuracy_model"] = means.to_dict(orient="records")
    points = participant_accuracy(ctx.forward)
    chance = chance_level(ctx.export.trials)
    sec.figure = figures.accuracy_figure(
        means,
        points,
        list(means["condition"]),
        ctx.figures_dir / "accuracy_by_condition.png",
        chance=chance[0] if chance else None,
    ).name
    data = ctx.forward.loc[ctx.forward["condition"].isin(model.levels)]
    sec.caption = (
        f"Grey points: accuracy of each participant in a condition ({data['participant'].nunique()} "
        f"participants, {len(data)} trials). Black: probability of a correct answer estimated by "
        f"the logistic mixed model {model.formula} (random effects at zero"
        + (", covariates at their means" if model.covariates else "")
        + "), with 95% Wald t intervals (between-within degrees of freedom) back-transformed "
        "from the log-odds scale; they account for "
        "the clustering of trials within participants and within stimuli."
        + (f" Dotted line: chance, 1/{chance[1]} answer options." if chance else "")
    )
    sec.results.append(
        "The model-estimated probability of a correct forward-simulation answer was "
        + "; ".join(
            f"{format_percent(r.probability)}, {format_ci(100 * r.ci_low, 100 * r.ci_high, 1)}, "
            f"with {r.condition}"
            for r in means.itertuples()
        )
        + " (table accuracy_model)."
    )
