"""Comparing conditions: participant-level tests, GEE, and the mixed model's contrasts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.compare import compare_conditions, fit_gee
from analysis.glmm import CrossedGLMMResult
from analysis.marginal import adjusted_contrasts, equivalence_test, likelihood_ratio_test
from analysis.sections.base import Context, Section, attempt
from analysis.sections.forward_model import ForwardModel, forward_model
from analysis.slopes import random_effects_table
from analysis.text import format_ci, format_number, format_p, format_t


def comparison_section(ctx: Context) -> Section:
    """Every pair of conditions, at the participant and at the trial level."""
    sec = Section("comparison", "Comparing conditions")
    if ctx.forward.empty:
        sec.notes.append("no forward-simulation trials: not estimable")
        return sec
    model = attempt(sec, "crossed GLMM", lambda: forward_model(ctx))
    if model is not None:
        sec.notes.extend(f"not estimable: {p}" for p in model.problems)
        _checks_in_words(sec, model.fit)
        if len(model.levels) > 1:
            levels = list(model.levels)
            data = ctx.forward.loc[ctx.forward["condition"].isin(levels)]
            _glmm_part(ctx, sec, model)
            _participant_part(ctx, sec, data, levels)
            _gee_part(ctx, sec, data, levels)
    return sec


def _glmm_part(ctx: Context, sec: Section, model: ForwardModel) -> None:
    fit, opts = model.fit, ctx.options
    contrasts = adjusted_contrasts(fit, adjust=opts.adjust)  # type: ignore[arg-type]
    sec.tables["glmm_coefficients"] = fit.coefficients
    sec.tables["glmm_contrasts"] = contrasts
    sec.tables["glmm_random_effects"] = random_effects_table(fit)
    ctx.summary["glmm_contrasts"] = contrasts.to_dict(orient="records")
    ctx.summary["glmm_random_effects"] = {
        "sd_participant": fit.sd_participant,
        "sd_stimulus": fit.sd_stimulus,
    }
    adjusted = contrasts["adjustment"].iloc[0] != "none"
    sec.methods.append(
        f"Accuracy was modelled trial by trial with the logistic mixed model {model.formula}, "
        "with crossed random intercepts for participants and stimuli"
        + (
            " and random slopes of condition by stimulus"
            + ("" if model.structure == "correlated" else " without correlations")
            if model.structure != "intercepts"
            else ""
        )
        + ", fitted by maximum likelihood "
        "with the Laplace approximation (hearxai's implementation, validated against lme4::glmer); "
        "conditions are treatment-coded against "
        f"'{model.levels[0]}'."
    )
    sec.methods.extend(model.slope_log)
    if _within_participants(ctx.forward, list(model.levels)):
        sec.methods.append(
            "Condition varied within participants, but random slopes by participant were not "
            "estimated (the model has one random intercept per participant)."
        )
    sec.methods.append(
        "Contrasts are conditional odds ratios with standard errors from the observed "
        f"information; p-values and 95% intervals come from {ctx.wald_method()}"
        + (
            f", with {opts.adjust.capitalize()}-adjusted p-values over the "
            f"{len(contrasts)} pairs (unadjusted intervals)."
            if adjusted
            else "."
        )
    )
    lrt = likelihood_ratio_test(fit, model.reduced, what="condition")  # type: ignore[arg-type]
    sec.tables["glmm_likelihood_ratio"] = lrt
    row = lrt.iloc[0]
    sec.methods.append(
        "The overall effect of condition was tested by a likelihood-ratio test against the "
        "same model without the fixed effect of condition (same random effects)."
    )
    sec.results.append(
        f"Accuracy {'differed significantly' if row.p_value < opts.alpha else 'did not differ significantly'} "
        f"between conditions, χ²({int(row.df)}) = {format_number(row.chi2)}, {format_p(row.p_value)} "
        "(table glmm_likelihood_ratio)."
    )
    for r in contrasts.itertuples():
        sec.results.append(_contrast_sentence(r, adjusted, opts.alpha, opts.equivalence_bound))
    if opts.equivalence_bound is not None:
        sec.tables["glmm_equivalence"] = _equivalence_table(contrasts, opts.equivalence_bound)
        bound = opts.equivalence_bound
        sec.methods.append(
            f"Equivalence was tested with two one-sided tests (TOST) against odds ratios of "
            f"{format_number(1 / bound)} and {format_number(bound)}, the bound set for this analysis."
        )


def _contrast_sentence(r: object, adjusted: bool, alpha: float, bound: float | None) -> str:
    p_used = r.p_adjusted if adjusted else r.p_value  # type: ignore[attr-defined]
    text = (
        f"{str(r.b).capitalize()} vs {r.a}: OR = {format_number(r.odds_ratio)}, "  # type: ignore[attr-defined]
        f"{format_ci(r.or_ci_low, r.or_ci_high)}, {format_t(r.t, r.df)}, "  # type: ignore[attr-defined]
        f"{format_p(r.p_value)}" + (f" (adjusted {format_p(p_used)})" if adjusted else "")  # type: ignore[attr-defined]
    )
    if p_used >= alpha:
        if bound is None:
            text += (
                "; not significant, which alone is no evidence of equal accuracy "
                "(set an equivalence bound to test that)"
            )
        else:
            tost = equivalence_test(r.log_or, r.se, math.log(bound), r.df)  # type: ignore[attr-defined]
            inside = tost["p_value"] < alpha
            text += (
                f"; {'equivalent' if inside else 'equivalence not shown'} within OR "
                f"[{format_number(1 / bound)}, {format_number(bound)}] (TOST {format_p(tost['p_value'])})"
            )
    return text + " (table glmm_contrasts)."


def _equivalence_table(contrasts: pd.DataFrame, bound: float) -> pd.DataFrame:
    rows = []
    for r in contrasts.itertuples():
        tost = equivalence_test(r.log_or, r.se, math.log(bound), r.df)
        rows.append(
            {
                "a": r.a,
                "b": r.b,
                "bound_or": bound,
                "p_value": tost["p_value"],
                "or_ci90_low": np.exp(tost["ci90_low"]),
                "or_ci90_high": np.exp(tost["ci90_high"]),
            }
        )
    return pd.DataFrame(rows)


def _within_participants(data: pd.DataFrame, levels: list[str]) -> bool:
    seen = data.loc[data["condition"].isin(levels)].groupby("participant")["condition"].nunique()
    return bool((seen > 1).any())


def _checks_in_words(sec: Section, fit: CrossedGLMMResult) -> None:
    for term in fit.singular_terms:
        sec.notes.append(
            f"Singular fit: the SD of the {term} random intercepts is estimated at 0 (lme4 reports "
            "'boundary (singular) fit'); the data show no detectable variation between "
            f"{term}s, and the model is in effect one without that term."
            if term in ("participant", "stimulus")
            else f"Singular fit: the {term} is not separable from the stimulus effects before it "
            "(variance 0 or correlation of ±1; lme4 reports 'boundary (singular) fit')."
        )
    sec.notes.extend(f"Crossed GLMM warning: {w}" for w in fit.warnings)
    sec.notes.append(
        f"Crossed GLMM: SD(participant) = {fit.sd_participant:.3f}, SD(stimulus) = "
        f"{fit.sd_stimulus:.3f} (log-odds)"
        + (" (all random effects: table glmm_random_effects)" if fit.structure.q > 1 else "")
        + f"; log-likelihood {fit.loglik:.2f}; "
        f"{fit.n_obs} trials, {fit.n_participants} participants, {fit.n_stimuli} stimuli."
    )


def _participant_part(ctx: Context, sec: Section, data: pd.DataFrame, levels: list[str]) -> None:
    tests = attempt(sec, "participant-level tests", lambda: compare_conditions(data, levels=levels))
    if tests is None:
        return
    sec.tables["participant_level_tests"] = tests
    ctx.summary["participant_level_tests"] = tests.to_dict(orient="records")
    design = tests["design"].iloc[0]
    blank = tests["p_t"].isna()
    if blank.any():
        sec.notes.append(
            "participant-level t-test: not estimable for "
            + ", ".join(f"{r.b} vs {r.a}" for r in tests.loc[blank].itertuples())
            + " (per-participant accuracy does not vary)"
        )
    sec.methods.append(
        "As a check at the participant level, per-participant accuracy was compared with "
        + (
            "paired t-tests and Wilcoxon signed-rank tests"
            if design == "within"
            else "Welch's t-test (Hedges' g) and the Mann-Whitney U test (rank-biserial r)"
        )
        + (", Holm-adjusted across pairs." if len(tests) > 1 else ".")
    )


def _gee_part(ctx: Context, sec: Section, data: pd.DataFrame, levels: list[str]) -> None:
    gee = attempt(sec, "GEE", lambda: fit_gee(data, levels=levels))
    if gee is None:
        return
    sec.tables["gee_contrasts"] = gee.contrasts
    ctx.summary["gee_contrasts"] = gee.contrasts.to_dict(orient="records")
    sec.methods.append(
        "Population-averaged odds ratios come from a logistic GEE with exchangeable working "
        f"correlation within participants ({gee.n_clusters} clusters; estimated correlation "
        f"{gee.working_correlation:.3f}) and bias-reduced robust standard errors (Mancl & "
        "DeRouen, 2001; statsmodels)."
    )
