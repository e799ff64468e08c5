"""Participant-level tests, Holm and GEE, cross-checked against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analysis._errors import NotEnoughData
from analysis.compare import (
    compare_conditions,
    compare_ratings,
    fit_gee,
    holm,
    participant_accuracy,
)
from analysis.glmm import fit_crossed_glmm, glmm_contrasts
from analysis.simulate import simulate_accuracy_trials


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    return simulate_accuracy_trials(
        rng,
        n_participants=160,
        n_trials=30,
        n_stimuli=50,
        intercept=0.2,
        effect=0.6,
        sd_participant=0.8,
        sd_stimulus=0.5,
    )


def test_holm_matches_statsmodels() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.001, np.nan])
    expected = multipletests(p[:-1], method="holm")[1]
    assert holm(p)[:-1] == pytest.approx(expected)
    assert np.isnan(holm(p)[-1])


def test_holm_matches_the_step_down_definition() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.001])
    order = np.argsort(p)
    stepped = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    expected = np.empty_like(p)
    expected[order] = np.minimum(stepped, 1.0)
    assert holm(p) == pytest.approx(expected, abs=1e-15)
    assert holm([]).shape == (0,)
    assert holm([0.3, np.nan]) == pytest.approx([0.3, np.nan], nan_ok=True)


def test_welch_and_mann_whitney_match_scipy_on_participant_means(study: pd.DataFrame) -> None:
    row = compare_conditions(study, levels=["visual", "audible"]).iloc[0]
    scores = participant_accuracy(study)
    a = scores.loc[scores["condition"] == "visual", "accuracy"]
    b = scores.loc[scores["condition"] == "audible", "accuracy"]
    welch = stats.ttest_ind(b, a, equal_var=False)
    assert row["t"] == pytest.approx(welch.statistic)
    assert row["p_t"] == pytest.approx(welch.pvalue)
    assert row["difference"] == pytest.approx(b.mean() - a.mean())
    assert row["p_rank"] == pytest.approx(stats.mannwhitneyu(b, a).pvalue)
    # rank-biserial = 2 * P(b > a) + P(tie) - 1, computed by brute force
    diff = b.to_numpy()[:, None] - a.to_numpy()[None, :]
    assert row["rank_biserial"] == pytest.approx((diff > 0).mean() - (diff < 0).mean())
    assert row["diff_ci_low"] < row["difference"] < row["diff_ci_high"]
    assert row["design"] == "between"


def test_hedges_g_matches_its_definition(study: pd.DataFrame) -> None:
    row = compare_conditions(study, levels=["visual", "audible"]).iloc[0]
    scores = participant_accuracy(study)
    a = scores.loc[scores["condition"] == "visual", "accuracy"].to_numpy()
    b = scores.loc[scores["condition"] == "audible", "accuracy"].to_numpy()
    pooled = np.sqrt(
        ((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2)
    )
    g = (b.mean() - a.mean()) / pooled * (1 - 3 / (4 * (len(a) + len(b)) - 9))
    assert row["effect_size"] == pytest.approx(g)


def test_a_within_participant_design_gets_paired_tests() -> None:
    rng = np.random.default_rng(3)
    people = np.repeat(np.arange(30), 20)
    trials = pd.DataFrame(
        {
            "participant": people,
            "condition": np.tile(["visual", "audible"], 300),
            "answer_correct": rng.random(600) < 0.6,
        }
    )
    row = compare_conditions(trials, levels=["visual", "audible"]).iloc[0]
    wide = participant_accuracy(trials).pivot(
        index="participant", columns="condition", values="accuracy"
    )
    assert row["design"] == "within"
    assert row["p_t"] == pytest.approx(stats.ttest_rel(wide["audible"], wide["visual"]).pvalue)


def test_three_conditions_get_holm_adjusted_p_values() -> None:
    rng = np.random.default_rng(5)
    trials = pd.DataFrame(
        {
            "participant": np.repeat(np.arange(45), 10),
            "condition": np.repeat(np.resize(["visual", "audible", "both"], 45), 10),
            "answer_correct": rng.random(450) < 0.6,
        }
    )
    table = compare_conditions(trials)
    assert list(zip(table["a"], table["b"], strict=True)) == [
        ("visual", "audible"),
        ("visual", "both"),
        ("audible", "both"),
    ]
    assert table["p_t_holm"].to_numpy() == pytest.approx(
        multipletests(table["p_t"], method="holm")[1]
    )


def test_too_few_participants_is_not_enough_data() -> None:
    trials = pd.DataFrame(
        {
            "participant": ["a", "b"],
            "condition": ["visual", "audible"],
            "answer_correct": [True, False],
        }
    )
    with pytest.raises(NotEnoughData):
        compare_conditions(trials)


def test_gee_and_the_mixed_model_agree_in_direction_and_magnitude(study: pd.DataFrame) -> None:
    gee = fit_gee(study, levels=["visual", "audible"]).contrasts.iloc[0]
    glmm = glmm_contrasts(fit_crossed_glmm(study, levels=["visual", "audible"])).iloc[0]
    assert gee["log_or"] > 0 and glmm["log_or"] > 0
    # Conditional (mixed-model) effects exceed marginal ones by roughly sqrt(1 + 0.346 * total variance).
    attenuation = np.sqrt(1 + 0.346 * (0.8**2 + 0.5**2))
    assert glmm["log_or"] / gee["log_or"] == pytest.approx(attenuation, rel=0.25)
    assert glmm["ci_low"] < 0.6 < glmm["ci_high"]


def test_gee_odds_ratio_matches_the_raw_marginal_odds_ratio_for_a_balanced_design(
    study: pd.DataFrame,
) -> None:
    gee = fit_gee(study, levels=["visual", "audible"]).contrasts.iloc[0]
    p = study.groupby("condition")["answer_correct"].mean()
    raw = np.log(p["audible"] / (1 - p["audible"])) - np.log(p["visual"] / (1 - p["visual"]))
    assert gee["log_or"] == pytest.approx(raw, abs=0.05)


def test_rating_tests_run_on_per_participant_means() -> None:
    rng = np.random.default_rng(8)
    trials = pd.DataFrame(
        {
            "participant": np.repeat(np.arange(40), 5),
            "condition": np.repeat(np.resize(["visual", "audible"], 40), 5),
            "rating": rng.integers(1, 8, 200).astype(float),
        }
    )
    trials.loc[trials["condition"] == "audible", "rating"] = np.minimum(7, trials["rating"] + 2)
    row = compare_ratings(trials, levels=["visual", "audible"]).iloc[0]
    means = trials.groupby(["participant", "condition"])["rating"].mean().reset_index()
    ref = stats.mannwhitneyu(
        means.loc[means["condition"] == "audible", "rating"],
        means.loc[means["condition"] == "visual", "rating"],
    )
    assert row["p_rank"] == pytest.approx(ref.pvalue)
    assert row["rank_biserial"] > 0.3
