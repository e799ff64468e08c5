"""Does the explanation effect depend on another variable (model right/wrong, class)?

For each ``--interaction COLUMN`` the accuracy model gains the column (a boolean
or numeric column as it is, a text column as treatment-coded dummies) and its
products with the condition terms; a likelihood-ratio test compares the model
with and without the products (R: ``anova(glmer(y ~ condition + m + ...),
glmer(y ~ condition * m + ...))``).
"""

from __future__ import annotations

import pandas as pd

from analysis._errors import NotEnoughData
from analysis.glmm import CrossedGLMMResult, fit_crossed_glmm
from analysis.marginal import likelihood_ratio_test
from analysis.sections.base import Context, Section, attempt
from analysis.sections.forward_model import forward_model
from analysis.text import format_number, format_p


def moderator_columns(data: pd.DataFrame, moderator: str) -> pd.DataFrame:
    """The moderator as model columns: itself (boolean/numeric) or one dummy per
    non-reference level (text; levels sorted, the first is the reference)."""
    values = data[moderator]
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return pd.DataFrame({moderator: values.astype(float)}, index=data.index)
    levels = sorted(values.astype(str).unique())
    return pd.DataFrame(
        {f"{moderator}[{lv}]": (values.astype(str) == lv).astype(float) for lv in levels[1:]},
        index=data.index,
    )


def interaction_fit(
    data: pd.DataFrame,
    levels: list[str],
    moderator: str,
    covariates: tuple[str, ...],
    structure: str = "intercepts",
) -> tuple[CrossedGLMMResult, CrossedGLMMResult]:
    """(model with main effects, model with the condition x moderator products), both
    with the stimulus random effects ``structure`` (a key of ``analysis.slopes.RANDOM_PARTS``)
    of the accuracy model."""
    mods = moderator_columns(data, moderator)
    if mods.shape[1] == 0 or (mods.nunique() < 2).all():
        raise NotEnoughData(f"{moderator} does not vary")
    products = {
        f"condition[{lv}]:{m}": (data["condition"].astype(str) == lv).astype(float) * mods[m]
        for lv in levels[1:]
        for m in mods.columns
    }
    rest = data.drop(columns=[c for c in mods.columns if c in data.columns])
    wide = pd.concat([rest, mods, pd.DataFrame(products, index=data.index)], axis=1)
    main = [*covariates, *mods.columns]
    slopes = {
        "stimulus_slopes": None if structure == "intercepts" else "condition",
        "correlated": structure == "correlated",
    }
    base = fit_crossed_glmm(wide, levels=levels, covariates=main, **slopes)
    full = fit_crossed_glmm(wide, levels=levels, covariates=[*main, *products], **slopes)
    return base, full


def moderation_section(ctx: Context) -> Section:
    """One likelihood-ratio test and coefficient table per requested interaction."""
    sec = Section("moderation", "Does the effect depend on other variables?")
    if not ctx.options.interactions:
        sec.notes.append("no interaction requested (--interaction COLUMN)")
        return sec
    model = attempt(sec, "interaction models", lambda: forward_model(ctx))
    if model is None or len(model.levels) < 2:
        sec.notes.append("interactions: not estimable without two modelled conditions")
        return sec
    data = ctx.forward.loc[ctx.forward["condition"].isin(model.levels)]
    for moderator in ctx.options.interactions:
        fits = attempt(
            sec,
            f"condition x {moderator}",
            lambda m=moderator: interaction_fit(
                data, list(model.levels), m, model.covariates, model.structure
            ),
        )
        if fits is None:
            continue
        base, full = fits
        lrt = likelihood_ratio_test(full, base, what=f"condition x {moderator}")
        key = f"interaction_{moderator}"
        sec.tables[f"{key}_test"] = lrt
        sec.tables[f"{key}_coefficients"] = full.coefficients
        row = lrt.iloc[0]
        sec.methods.append(
            f"Whether the condition effect depends on {moderator} was tested by adding "
            f"condition x {moderator} to the accuracy model (likelihood-ratio test against the "
            "model with both main effects)."
        )
        sec.results.append(
            f"The condition effect {'differed' if row.p_value < ctx.options.alpha else 'did not differ significantly'} "
            f"by {moderator}, χ²({int(row.df)}) = {format_number(row.chi2)}, "
            f"{format_p(row.p_value)} (table {key}_test)."
        )
    return sec
