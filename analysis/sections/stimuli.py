"""Per-stimulus difficulty, and the stimuli an explanation helped or misled on."""

from __future__ import annotations

from analysis import figures
from analysis.descriptive import stimulus_difficulty
from analysis.sections.base import Context, Section
from analysis.stimuli import stimulus_effects


def stimulus_section(ctx: Context) -> Section:
    """Difficulty table; with two or more conditions, FDR-controlled differences."""
    sec = Section("stimuli", "Per-stimulus difficulty")
    if ctx.forward.empty:
        sec.notes.append("no forward-simulation trials: not estimable")
        return sec
    sec.tables["stimulus_difficulty"] = stimulus_difficulty(ctx.forward, levels=ctx.levels)
    if len(ctx.levels) < 2:
        return sec
    a, b = ctx.levels[0], ctx.levels[-1]
    alpha = ctx.options.alpha
    effects = stimulus_effects(ctx.forward, a=a, b=b, alpha=alpha)
    sec.tables["stimulus_effects"] = effects
    sec.figure = figures.stimulus_figure(
        effects, a, b, ctx.figures_dir / "stimulus_accuracy.png"
    ).name
    flagged = effects.loc[effects["verdict"] != "no clear difference"]
    sec.caption = (
        f"Accuracy with {b} minus accuracy with {a} for each of the {len(effects)} stimuli seen in "
        "both conditions, with Newcombe 95% intervals (not adjusted); coloured: difference that "
        f"survives Benjamini-Hochberg false-discovery-rate control at q < {alpha:g} "
        "(green helped, red misled)."
    )
    sec.methods.append(
        f"Per stimulus, accuracy with {b} and {a} was compared with Fisher's exact test, "
        "controlling the false-discovery rate over stimuli (Benjamini-Hochberg)."
    )
    sec.results.append(
        f"{len(flagged)} of {len(effects)} stimuli differed between {b} and {a} after "
        "false-discovery-rate control (table stimulus_effects)."
    )
    return sec
