"""Helpfulness ratings (Likert 1-7)."""

from __future__ import annotations

from analysis.compare import compare_ratings
from analysis.descriptive import rating_summary
from analysis.sections.base import Context, Section, attempt

_TEST_COLUMNS = [
    "a",
    "b",
    "design",
    "n_a",
    "n_b",
    "mean_a",
    "mean_b",
    "rank_statistic",
    "p_rank",
    "rank_biserial",
    "rb_ci_low",
    "rb_ci_high",
    "p_rank_holm",
]


def ratings_section(ctx: Context) -> Section:
    """Ordinal summary and rank tests on per-participant mean ratings."""
    sec = Section("ratings", "Helpfulness ratings (1-7)")
    main = ctx.kept.trials
    if main["rating"].notna().sum() == 0:
        sec.notes.append("no ratings recorded")
        return sec
    sec.tables["rating_summary"] = rating_summary(main)
    sec.methods.append(
        "Helpfulness ratings (1-7) are summarised by median and interquartile range per condition."
    )
    tests = attempt(sec, "rating tests", lambda: compare_ratings(main, levels=ctx.levels))
    if tests is not None:
        sec.tables["rating_tests"] = tests[_TEST_COLUMNS]
        sec.methods.append(
            "Ratings were compared with rank tests on each participant's mean rating"
            + (" (Holm-adjusted across pairs)." if len(tests) > 1 else ".")
        )
    return sec
