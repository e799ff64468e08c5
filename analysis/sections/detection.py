"""Verification trials as signal detection: pooled d' and c, and the hierarchical
probit model (DeCarlo 1998) with its test of the d' difference."""

from __future__ import annotations

from analysis.compare import holm
from analysis.descriptive import signal_detection
from analysis.sdt import FORMULA, SDTResult, fit_sdt
from analysis.sections.base import Context, Section, attempt
from analysis.text import format_ci, format_number, format_p, format_t


def detection_section(ctx: Context) -> Section:
    """d' and c per condition, when the study had verification trials."""
    sec = Section(
        "signal_detection",
        "Verification: signal detection",
        "Hit = 'yes' when the model was right, false alarm = 'yes' when it was wrong.",
    )
    if ctx.verification.empty:
        sec.notes.append("no verification trials in this study")
        return sec
    table = attempt(sec, "signal detection", lambda: signal_detection(ctx.verification))
    if table is None:
        return sec
    order = {level: i for i, level in enumerate(ctx.levels)}
    table = table.sort_values("condition", key=lambda c: c.map(order), kind="stable")
    sec.tables["signal_detection"] = table.reset_index(drop=True)
    ctx.summary["signal_detection"] = table.to_dict(orient="records")
    sec.methods.append(
        f"The {len(ctx.verification)} verification trials were summarised per condition by hit and "
        "false-alarm rates, d′ and criterion c pooled over trials (log-linear correction, "
        "Hautus 1995; descriptive, table signal_detection)."
    )
    levels = [lv for lv in ctx.levels if lv in set(ctx.verification["condition"].astype(str))]
    model = attempt(sec, "hierarchical SDT model", lambda: fit_sdt(ctx.verification, levels=levels))
    if model is not None:
        _model_part(ctx, sec, model)
    return sec


def _model_part(ctx: Context, sec: Section, model: SDTResult) -> None:
    sec.tables["sdt_model"] = model.by_condition
    ctx.summary["sdt_model"] = model.by_condition.to_dict(orient="records")
    sec.methods.append(
        "Sensitivity and criterion were estimated with the hierarchical probit model of "
        f"signal detection (DeCarlo 1998) {FORMULA}, in which the criterion varies between "
        "participants and between stimuli (random intercepts) and d′ per condition is the "
        "signal coefficient; it was fitted by maximum likelihood (Laplace; validated against "
        f"lme4::glmer with the probit link). Its intervals and tests come from {ctx.wald_method()}."
    )
    sec.notes.extend(
        f"SDT model: singular fit, the SD of the {term} criterion is estimated at 0."
        for term in model.fit.singular_terms
    )
    sec.notes.extend(f"SDT model warning: {w}" for w in model.fit.warnings)
    sec.results.append(
        "In the hierarchical SDT model, sensitivity was "
        + "; ".join(
            f"d′ = {format_number(r.dprime)}, {format_ci(r.dprime_ci_low, r.dprime_ci_high)}, "
            f"with {r.condition}"
            for r in model.by_condition.itertuples()
        )
        + " (table sdt_model)."
    )
    diffs = model.differences
    if diffs.empty:
        return
    adjusted = len(diffs) > 1
    diffs = diffs.assign(p_holm=holm(diffs["p_value"]) if adjusted else diffs["p_value"])
    sec.tables["sdt_dprime_differences"] = diffs
    if adjusted:
        sec.methods.append("Differences in d′ between conditions are Holm-adjusted over pairs.")
    sec.results.append(
        "Differences in d′: "
        + "; ".join(
            f"{r.b} − {r.a} = {format_number(r.dprime_difference)}, "
            f"{format_ci(r.ci_low, r.ci_high)}, {format_t(r.t, r.df)}, {format_p(r.p_value)}"
            + (f" (adjusted {format_p(r.p_holm)})" if adjusted else "")
            for r in diffs.itertuples()
        )
        + " (table sdt_dprime_differences)."
    )
