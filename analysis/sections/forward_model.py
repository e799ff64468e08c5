"""The accuracy model of forward-simulation trials, fitted once for every section.

``answer_correct ~ condition + covariates + (1 | participant) + (1 + condition | stimulus)``
(logit, Laplace), simplified where the data do not support the slopes
(``analysis.slopes``), plus the same model without the fixed effect of
``condition`` (same random effects) for the likelihood-ratio test.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis._errors import NotEnoughData
from analysis.estimability import condition_problems
from analysis.glmm import CrossedGLMMResult, fit_crossed_glmm
from analysis.marginal import covariate_means
from analysis.sections.base import Context
from analysis.slopes import RANDOM_PARTS, fit_maximal


@dataclass(frozen=True)
class ForwardModel:
    """The fitted accuracy model and what the text needs to describe it."""

    fit: CrossedGLMMResult
    reduced: CrossedGLMMResult | None  # without condition (None with one condition)
    levels: tuple[str, ...]
    covariates: tuple[str, ...]
    at: dict[str, float]
    problems: tuple[str, ...]
    structure: str = "intercepts"  # key of analysis.slopes.RANDOM_PARTS
    slope_log: tuple[str, ...] = ()  # why this random-effect structure

    @property
    def formula(self) -> str:
        """The model in lme4 notation."""
        terms = (["condition"] if len(self.levels) > 1 else []) + list(self.covariates)
        fixed = " + ".join(terms) or "1"
        return f"answer_correct ~ {fixed} + {RANDOM_PARTS[self.structure]}"


def expected_levels(ctx: Context) -> list[str]:
    """Conditions the study had: of the main trials and of participants.csv."""
    main = ctx.export.trials.loc[ctx.export.trials["trial_kind"] == "main", "condition"]
    named = ctx.export.participants["condition"].dropna().astype(str)
    seen = set(main.astype(str)) | {c for c in named if c}
    return [lv for lv in ctx.levels if lv in seen] + sorted(seen - set(ctx.levels))


def forward_model(ctx: Context) -> ForwardModel:
    """The shared fit (raises NotEnoughData with the reasons when there is none)."""
    return ctx.shared("forward_model", lambda: _fit(ctx))


def _fit(ctx: Context) -> ForwardModel:
    data = ctx.forward
    if data.empty:
        raise NotEnoughData("no forward-simulation trials after exclusions")
    levels, problems = condition_problems(data, levels=ctx.levels, expected=expected_levels(ctx))
    if data["participant"].nunique() < 3 or not levels:
        raise NotEnoughData("; ".join(problems))
    data = data.loc[data["condition"].astype(str).isin(levels)]
    covariates = ctx.options.covariates
    at = covariate_means(data, covariates)
    if len(levels) < 2:
        fit = fit_crossed_glmm(data, covariates=covariates, condition=None)
        return ForwardModel(fit, None, tuple(levels), covariates, at, tuple(problems))
    choice = fit_maximal(data, levels=levels, covariates=covariates)
    reduced = fit_crossed_glmm(
        data,
        levels=levels,
        condition=None,
        covariates=covariates,
        stimulus_slopes=choice.slopes,
        correlated=choice.correlated,
    )
    return ForwardModel(
        choice.fit,
        reduced,
        tuple(levels),
        covariates,
        at,
        tuple(problems),
        choice.structure,
        choice.log,
    )
