"""Verification trials as signal detection (d' and criterion per condition)."""

from __future__ import annotations

from analysis.descriptive import signal_detection
from analysis.sections.base import Context, Section, attempt


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
        "false-alarm rates, d′ and criterion c (log-linear correction, Hautus 1995; "
        "Gourevitch-Galanter 95% intervals for d′), pooling trials."
    )
    sec.results.append(
        "Sensitivity was "
        + "; ".join(
            f"d′ = {r.dprime:.2f}, 95% CI [{r.dprime_ci_low:.2f}, {r.dprime_ci_high:.2f}], "
            f"with {r.condition}"
            for r in sec.tables["signal_detection"].itertuples()
        )
        + " (table signal_detection)."
    )
    return sec
