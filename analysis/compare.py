"""Comparing conditions: participant-level tests, GEE, Holm correction.

The unit of analysis for the t and rank tests is the participant (their mean
accuracy or rating), so trials of one person are not counted as independent.
Between-participant designs get Welch's t-test and the Mann-Whitney U test;
within-participant designs (a participant seen in both conditions) get the paired
t-test and the Wilcoxon signed-rank test on the participants who have both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analysis._checks import check_columns
from analysis._contrasts import all_pairs, condition_levels, contrast_table
from analysis._errors import NotEnoughData

Z95 = float(stats.norm.ppf(0.975))


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, by statsmodels ``multipletests``.

    NaN p-values (a test that could not be run, e.g. no variance in a pair) are
    left out of the family and stay NaN: ``multipletests`` would count them. A
    family of one test is its own adjustment and is returned as it is, without the
    call: statsmodels 0.15 runs ``gc.collect()`` on every Holm adjustment, which
    took 0.28 s in a report process (measured, 2,000 participants) and would be
    paid twice per two-condition table.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.sum() == 1:
        out[ok] = np.minimum(p[ok], 1.0)
    elif ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def participant_accuracy(
    trials: pd.DataFrame,
    *,
    condition: str = "condition",
    outcome: str = "answer_correct",
    participant: str = "participant",
) -> pd.DataFrame:
    """Per participant and condition: ``participant``, ``condition``, ``n_trials``, ``accuracy``."""
    check_columns(trials, {participant: "any", condition: "any", outcome: "bool"}, where="trials")
    grouped = trials.assign(_y=trials[outcome].astype(float)).groupby(
        [participant, condition], sort=False
    )["_y"]
    out = grouped.agg(n_trials="size", accuracy="mean").reset_index()
    return out.rename(columns={participant: "participant", condition: "condition"})


def _welch(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Welch's t for mean(y) - mean(x), its CI, and Hedges' g with an approximate CI."""
    res = stats.ttest_ind(y, x, equal_var=False)
    ci = res.confidence_interval(0.95)
    nx, ny = len(x), len(y)
    pooled = np.sqrt(((nx - 1) * x.var(ddof=1) + (ny - 1) * y.var(ddof=1)) / (nx + ny - 2))
    j = 1 - 3 / (4 * (nx + ny) - 9)  # small-sample correction (Hedges & Olkin 1985)
    g = j * (y.mean() - x.mean()) / pooled if pooled > 0 else np.nan
    se_g = np.sqrt((nx + ny) / (nx * ny) + g * g / (2 * (nx + ny)))
    return {
        "t": float(res.statistic),
        "df": float(res.df),
        "p_t": float(res.pvalue),
        "diff_ci_low": float(ci.low),
        "diff_ci_high": float(ci.high),
        "effect_size": float(g),
        "es_ci_low": float(g - Z95 * se_g),
        "es_ci_high": float(g + Z95 * se_g),
    }


def _mann_whitney(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Mann-Whitney U (y vs x) and the rank-biserial correlation with a normal-approximation CI."""
    res = stats.mannwhitneyu(y, x, alternative="two-sided")
    nx, ny = len(x), len(y)
    r = 2.0 * res.statistic / (nx * ny) - 1.0  # P(y > x) - P(y < x)
    se = np.sqrt((nx + ny + 1) / (3.0 * nx * ny))
    return {
        "rank_statistic": float(res.statistic),
        "p_rank": float(res.pvalue),
        "rank_biserial": float(r),
        "rb_ci_low": float(max(-1.0, r - Z95 * se)),
        "rb_ci_high": float(min(1.0, r + Z95 * se)),
    }


def _paired(d: np.ndarray) -> dict[str, float]:
    """Paired t on differences d (b - a), Cohen's d_z, Wilcoxon signed-rank with matched rank-biserial."""
    res = stats.ttest_1samp(d, 0.0)
    ci = res.confidence_interval(0.95)
    n = len(d)
    dz = d.mean() / d.std(ddof=1) if d.std(ddof=1) > 0 else np.nan
    se_dz = np.sqrt(1.0 / n + dz * dz / (2 * n))
    nonzero = d[d != 0]
    if len(nonzero):
        w = stats.wilcoxon(nonzero)
        ranks = stats.rankdata(np.abs(nonzero))
        r = (ranks[nonzero > 0].sum() - ranks[nonzero < 0].sum()) / ranks.sum()
        se_r = np.sqrt((2 * len(nonzero) + 1) / (3.0 * len(nonzero) * (len(nonzero) + 1)))
        wstat, wp = float(w.statistic), float(w.pvalue)
    else:
        r, se_r, wstat, wp = 0.0, np.nan, np.nan, 1.0
    return {
        "t": float(res.statistic),
        "df": float(res.df),
        "p_t": float(res.pvalue),
        "diff_ci_low": float(ci.low),
        "diff_ci_high": float(ci.high),
        "effect_size": float(dz),
        "es_ci_low": float(dz - Z95 * se_dz),
        "es_ci_high": float(dz + Z95 * se_dz),
        "rank_statistic": wstat,
        "p_rank": wp,
        "rank_biserial": float(r),
        "rb_ci_low": float(max(-1.0, r - Z95 * se_r)),
        "rb_ci_high": float(min(1.0, r + Z95 * se_r)),
    }


def _compare_scores(
    scores: pd.DataFrame, value: str, pairs: Sequence[tuple[str, str]]
) -> pd.DataFrame:
    """Participant-level comparisons of ``value`` for each pair of conditions."""
    within = scores.groupby("participant")["condition"].nunique().max() > 1
    rows = []
    for a, b in pairs:
        xa = scores.loc[scores["condition"] == a].set_index("participant")[value]
        xb = scores.loc[scores["condition"] == b].set_index("participant")[value]
        if within:
            both = xa.index.intersection(xb.index)
            if len(both) < 3:
                raise NotEnoughData(
                    f"paired comparison {a} vs {b} needs 3 participants with both conditions"
                )
            stats_ = _paired((xb[both] - xa[both]).to_numpy(float))
        else:
            if len(xa) < 2 or len(xb) < 2:
                raise NotEnoughData(
                    f"comparison {a} vs {b} needs at least 2 participants per condition"
                )
            stats_ = {
                **_welch(xa.to_numpy(float), xb.to_numpy(float)),
                **_mann_whitney(xa.to_numpy(float), xb.to_numpy(float)),
            }
        rows.append(
            {
                "a": a,
                "b": b,
                "design": "within" if within else "between",
                "n_a": len(xa),
                "n_b": len(xb),
                "mean_a": xa.mean(),
                "mean_b": xb.mean(),
                "difference": xb.mean() - xa.mean(),
                **stats_,
            }
        )
    out = pd.DataFrame(rows)
    out["p_t_holm"] = holm(out["p_t"])
    out["p_rank_holm"] = holm(out["p_rank"])
    return out


def compare_conditions(
    trials: pd.DataFrame,
    *,
    condition: str = "condition",
    outcome: str = "answer_correct",
    participant: str = "participant",
    pairs: Sequence[tuple[str, str]] | None = None,
    levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Participant-level tests of accuracy for every pair of conditions (b minus a).

    Returns
    -------
    DataFrame, one row per pair, with ``a``, ``b``, ``design`` ("between" or
    "within"), ``n_a``, ``n_b`` (participants), ``mean_a``, ``mean_b`` (mean
    per-participant accuracy), ``difference``, ``diff_ci_low``, ``diff_ci_high``
    (95%), ``t``, ``df``, ``p_t`` (Welch, or paired t), ``effect_size`` (Hedges' g,
    or d_z when paired) with ``es_ci_low``/``es_ci_high`` (normal approximation),
    ``rank_statistic`` (Mann-Whitney U of b, or Wilcoxon W), ``p_rank``,
    ``rank_biserial`` (P(b > a) - P(b < a)) with ``rb_ci_low``/``rb_ci_high``, and
    Holm-adjusted ``p_t_holm``, ``p_rank_holm`` (over the pairs in this table).
    """
    scores = participant_accuracy(
        trials, condition=condition, outcome=outcome, participant=participant
    )
    levels = list(levels) if levels else condition_levels(scores["condition"])
    if len(levels) < 2:
        raise NotEnoughData("comparing conditions needs at least two conditions")
    return _compare_scores(scores, "accuracy", pairs or all_pairs(levels))


def compare_ratings(
    trials: pd.DataFrame,
    *,
    condition: str = "condition",
    rating: str = "rating",
    participant: str = "participant",
    pairs: Sequence[tuple[str, str]] | None = None,
    levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Rank tests of Likert ratings, on each participant's mean rating (columns as
    ``compare_conditions``; means are of per-participant mean ratings)."""
    check_columns(trials, {participant: "any", condition: "any", rating: "numeric"}, where="trials")
    rated = trials.loc[trials[rating].notna()]
    scores = rated.groupby([participant, condition], sort=False)[rating].mean().reset_index()
    scores = scores.rename(
        columns={participant: "participant", condition: "condition", rating: "score"}
    )
    levels = list(levels) if levels else condition_levels(scores["condition"])
    if len(levels) < 2:
        raise NotEnoughData("comparing ratings needs at least two conditions")
    return _compare_scores(scores, "score", pairs or all_pairs(levels))


@dataclass(frozen=True)
class GEEResult:
    """Population-averaged logistic model with participant clusters.

    ``coefficients``: ``term``, ``estimate``, ``se`` (bias-reduced sandwich), ``z``,
    ``p_value``, ``ci_low``, ``ci_high``, ``odds_ratio``, ``or_ci_low``,
    ``or_ci_high``. ``contrasts``: as ``glmm_contrasts`` (marginal odds ratios).
    """

    coefficients: pd.DataFrame
    contrasts: pd.DataFrame
    working_correlation: float
    n_clusters: int
    levels: tuple[str, ...]


def fit_gee(
    trials: pd.DataFrame,
    *,
    condition: str = "condition",
    outcome: str = "answer_correct",
    participant: str = "participant",
    levels: Sequence[str] | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> GEEResult:
    """GEE logistic regression of ``outcome ~ condition`` with exchangeable working
    correlation within participants and bias-reduced robust standard errors (statsmodels).

    The plain sandwich SE is too small with few clusters (Mancl & DeRouen 2001): with 40
    participants its 5% test rejected 6.8% of 1,000 null studies; the bias-reduced
    (Mancl-DeRouen) SE rejects 5.6% (docs/analysis.md, "Calibration")."""
    check_columns(trials, {participant: "any", condition: "any", outcome: "bool"}, where="trials")
    levels = list(levels) if levels else condition_levels(trials[condition])
    if len(levels) < 2 or trials[participant].nunique() < 4:
        raise NotEnoughData("GEE needs at least two conditions and four participants")
    data = trials.sort_values(participant, kind="stable")
    values = data[condition].astype(str)
    design = pd.DataFrame({"Intercept": 1.0}, index=data.index)
    for level in levels[1:]:
        design[f"condition[{level}]"] = (values == level).astype(float)
    groups = pd.factorize(data[participant])[0]
    model = sm.GEE(
        data[outcome].astype(float),
        design,
        groups=groups,
        family=sm.families.Binomial(),
        cov_struct=sm.cov_struct.Exchangeable(),
    )
    fit = model.fit(cov_type="bias_reduced")
    beta, cov = fit.params.to_numpy(), fit.cov_params().to_numpy()
    coefficients = _coefficient_table(list(design.columns), beta, np.sqrt(np.diag(cov)))
    contrasts = contrast_table(beta, cov, list(design.columns), levels, pairs)
    return GEEResult(
        coefficients,
        contrasts,
        float(model.cov_struct.dep_params),
        int(groups.max() + 1),
        tuple(levels),
    )


def _coefficient_table(terms: list[str], beta: np.ndarray, se: np.ndarray) -> pd.DataFrame:
    z = beta / se
    out = pd.DataFrame(
        {
            "term": terms,
            "estimate": beta,
            "se": se,
            "z": z,
            "p_value": 2 * stats.norm.sf(np.abs(z)),
            "ci_low": beta - Z95 * se,
            "ci_high": beta + Z95 * se,
        }
    )
    out["odds_ratio"], out["or_ci_low"], out["or_ci_high"] = (
        np.exp(out[c]) for c in ("estimate", "ci_low", "ci_high")
    )
    return out
