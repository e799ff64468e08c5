"""Confidence calibration of forward-simulation answers."""

from __future__ import annotations

from analysis import figures
from analysis.descriptive import calibration_summary, confidence_calibration
from analysis.sections.base import Context, Section


def calibration_section(ctx: Context) -> Section:
    """Reliability table and figure, ECE and Brier score per condition."""
    sec = Section("calibration", "Confidence calibration")
    data = ctx.forward.loc[ctx.forward["confidence"].notna()] if not ctx.forward.empty else None
    if data is None or data.empty:
        sec.notes.append("no confidence ratings on forward trials")
        return sec
    table = confidence_calibration(data)
    sec.tables["calibration_bins"] = table
    sec.tables["calibration_summary"] = calibration_summary(data)
    sec.figure = figures.calibration_figure(
        table, ctx.levels, ctx.figures_dir / "confidence_calibration.png"
    ).name
    sec.caption = (
        "Accuracy against mean stated confidence per 20-point bin, with 95% Wilson intervals on "
        "pooled trials (descriptive); the diagonal is perfect calibration."
    )
    sec.methods.append(
        "Confidence calibration is described by accuracy per 20-point confidence bin, expected "
        "calibration error and Brier score."
    )
    return sec
