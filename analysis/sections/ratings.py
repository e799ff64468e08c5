"""Helpfulness ratings (Likert 1-7): ordinal summary, cumulative-logit mixed model,
and rank tests on per-participant means as a check that assumes no model."""

from __future__ import annotations

import pandas as pd
from statsmodels.stats.multitest import multipletests

from analysis.compare import compare_ratings
from analysis.descriptive import rating_summary
from analysis.ordinal import FORMULA, OrdinalMixedResult, fit_ordinal_mixed
from analysis.sections.base import Context, Section, attempt
from analysis.text import format_ci, format_number, format_p, format_t

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
    """Ordinal summary, the cumulative-logit mixed model and rank tests."""
    sec = Section("ratings", "Helpfulness ratings (1-7)")
    main = ctx.kept.trials
    if main["rating"].notna().sum() == 0:
        sec.notes.append("no ratings recorded")
        return sec
    sec.tables["rating_summary"] = rating_summary(main)
    sec.methods.append(
        "Helpfulness ratings (1-7) are summarised by median and interquartile range per condition."
    )
    model = attempt(sec, "ratings model", lambda: fit_ordinal_mixed(main, levels=ctx.levels))
    if model is not None:
        _model_part(ctx, sec, model)
    tests = attempt(sec, "rating tests", lambda: compare_ratings(main, levels=ctx.levels))
    if tests is not None:
        sec.tables["rating_tests"] = tests[_TEST_COLUMNS]
        sec.methods.append(
            "As a check that assumes no model, ratings were also compared with rank tests on "
            "each participant's mean rating"
            + (" (Holm-adjusted across pairs)." if len(tests) > 1 else ".")
        )
    return sec


def _model_part(ctx: Context, sec: Section, model: OrdinalMixedResult) -> None:
    contrasts = model.contrasts()
    adjusted = len(contrasts) > 1
    contrasts["adjustment"] = "holm" if adjusted else "none"
    contrasts["p_adjusted"] = (
        multipletests(contrasts["p_value"], method="holm")[1] if adjusted else contrasts["p_value"]
    )
    sec.tables["ratings_model_contrasts"] = contrasts
    sec.tables["ratings_model_thresholds"] = model.thresholds
    sec.tables["ratings_model_random_effects"] = model.random_effects
    ctx.summary["ratings_model_contrasts"] = contrasts.to_dict(orient="records")
    ctx.summary["ratings_model_random_effects"] = model.random_effects.to_dict(orient="records")
    sec.methods.append(
        f"Ratings were modelled trial by trial with the cumulative-logit mixed model {FORMULA} "
        "(ordinal::clmm notation; proportional odds), with crossed random intercepts for "
        f"participants and stimuli and {len(model.thresholds)} freely estimated thresholds "
        "between the rating values observed, fitted by maximum likelihood with the Laplace "
        "approximation (hearxai's implementation, validated against ordinal::clmm); conditions "
        f"are treatment-coded against '{model.levels[0]}'. Effects are cumulative odds ratios "
        "(the odds of a higher rating, for the same participant and stimulus) with standard "
        f"errors from the observed information; p-values and 95% intervals come from {ctx.wald_method()}"
        + (f", Holm-adjusted over the {len(contrasts)} pairs." if adjusted else ".")
    )
    if _within_participants(ctx.kept.trials.loc[ctx.kept.trials["rating"].notna()]):
        sec.methods.append(
            "Condition varied within participants, but random slopes by participant were not "
            "estimated in the ratings model (one random intercept per participant)."
        )
    if model.unused:
        sec.methods.append(
            "No participant chose "
            + ", ".join(f"{v:g}" for v in model.unused)
            + ": the thresholds around an unused rating merge into one (table "
            "ratings_model_thresholds)."
        )
    _model_notes(sec, model)
    sec.results.extend(
        f"Ratings model, {r.b} vs {r.a}: cumulative OR = {format_number(r.odds_ratio)}, "
        f"{format_ci(r.or_ci_low, r.or_ci_high)}, {format_t(r.t, r.df)}, {format_p(r.p_value)}"
        + (f" (adjusted {format_p(r.p_adjusted)})" if adjusted else "")
        + " (table ratings_model_contrasts)."
        for r in contrasts.itertuples()
    )


def _model_notes(sec: Section, model: OrdinalMixedResult) -> None:
    sec.notes.extend(
        f"Ratings model: singular fit, the SD of the {term} random intercepts is estimated at 0 "
        f"(ordinal reports it as 0); the ratings show no detectable variation between {term}s, "
        "and the model is in effect one without that term."
        for term in model.singular_terms
    )
    sec.notes.extend(f"Ratings model warning: {w}" for w in model.warnings)
    sd = dict(zip(model.random_effects["group"], model.random_effects["sd"], strict=True))
    sec.notes.append(
        f"Ratings model: SD(participant) = {sd['participant']:.3f}, SD(stimulus) = "
        f"{sd['stimulus']:.3f} (logit scale; table ratings_model_random_effects)."
    )


def _within_participants(rated: pd.DataFrame) -> bool:
    return bool((rated.groupby("participant")["condition"].nunique() > 1).any())
