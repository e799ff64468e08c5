"""The exclusion flow: how many participants and trials each rule removed."""

from __future__ import annotations

from analysis import figures
from analysis.sections.base import Context, Section


def exclusion_section(ctx: Context) -> Section:
    """The flow table and figure; the text names only rules that removed someone."""
    sec = Section(
        "exclusions",
        "Exclusions",
        "Rules applied in this order; each participant is counted under the first rule that "
        "removed them. Trials are main trials (practice excluded; catch trials used only for "
        "the catch rule).",
    )
    flow = ctx.kept.flow
    sec.tables["exclusion_flow"] = flow
    sec.tables["excluded_participants"] = ctx.kept.excluded
    sec.figure = figures.exclusion_figure(flow, ctx.figures_dir / "exclusion_flow.png").name
    sec.caption = "Participants remaining after each exclusion rule, in the order applied."
    start = flow.iloc[0]
    hits = [r for r in flow.iloc[1:].itertuples() if r.participants_removed or r.trials_removed]
    removed = "; ".join(
        f"{r.rule}: {_count(r.participants_removed, 'participant')}"
        + (f" ({_count(r.trials_removed, 'trial')})" if r.trials_removed else "")
        for r in hits
    )
    sec.methods.append(
        f"The export held {_count(int(start.participants_remaining), 'participant')} with "
        f"{_count(int(start.trials_remaining), 'main trial')}. "
        + (
            f"Excluded, in the order the rules were applied: {removed} (table exclusion_flow). "
            if hits
            else "No exclusion rule removed anyone. "
        )
        + f"The analysis used {_count(len(ctx.kept.participants), 'participant')} and "
        f"{_count(len(ctx.kept.trials), 'main trial')}."
    )
    return sec


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
