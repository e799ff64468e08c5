"""Descriptive statistics, each checked against an independent computation."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from analysis.descriptive import (
    accuracy_by_condition,
    calibration_summary,
    confidence_calibration,
    dprime,
    rating_summary,
    signal_detection,
    stimulus_difficulty,
)
from analysis.stimuli import stimulus_effects


@pytest.mark.parametrize(("h", "f"), [(0.8, 0.2), (0.6, 0.4), (0.99, 0.01), (0.3, 0.5)])
def test_dprime_and_criterion_match_the_stdlib_normal_quantile(h: float, f: float) -> None:
    z = NormalDist().inv_cdf
    d, c = dprime(h, f)
    assert d == pytest.approx(z(h) - z(f), abs=1e-12)
    assert c == pytest.approx(-(z(h) + z(f)) / 2, abs=1e-12)


def _sdt_frame(hits: int, n_signal: int, fas: int, n_noise: int) -> pd.DataFrame:
    answers = ["yes"] * hits + ["no"] * (n_signal - hits) + ["yes"] * fas + ["no"] * (n_noise - fas)
    return pd.DataFrame(
        {
            "condition": "visual",
            "answer": answers,
            "model_correct": [True] * n_signal + [False] * n_noise,
        }
    )


def test_signal_detection_counts_hits_and_false_alarms() -> None:
    table = signal_detection(_sdt_frame(30, 40, 10, 50)).iloc[0]
    assert (table["hits"], table["false_alarms"]) == (30, 10)
    assert table["hit_rate"] == pytest.approx(0.75)
    assert table["false_alarm_rate"] == pytest.approx(0.2)
    z = NormalDist().inv_cdf
    assert table["dprime"] == pytest.approx(z(30.5 / 41) - z(10.5 / 51))
    assert table["dprime_ci_low"] < table["dprime"] < table["dprime_ci_high"]


def test_perfect_rates_stay_finite_thanks_to_the_log_linear_correction() -> None:
    table = signal_detection(_sdt_frame(20, 20, 0, 20)).iloc[0]
    assert np.isfinite(table["dprime"]) and table["dprime"] > 2


def _trials() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    return pd.DataFrame(
        {
            "participant": rng.integers(0, 40, n).astype(str),
            "stimulus": rng.integers(0, 20, n).astype(str),
            "condition": np.where(rng.random(n) < 0.5, "visual", "audible"),
            "answer_correct": rng.random(n) < 0.6,
            "model_correct": rng.random(n) < 0.5,
            "confidence": rng.integers(0, 101, n).astype(float),
            "rating": rng.integers(1, 8, n).astype(float),
        }
    )


def test_accuracy_by_condition_matches_a_plain_groupby() -> None:
    trials = _trials()
    table = accuracy_by_condition(trials).set_index(["condition", "model_correct"])
    for cond, part in trials.groupby("condition"):
        assert table.loc[(cond, "all"), "accuracy"] == pytest.approx(part["answer_correct"].mean())
        right = part.loc[part["model_correct"], "answer_correct"]
        assert table.loc[(cond, "right"), "n_trials"] == len(right)
        assert table.loc[(cond, "right"), "accuracy"] == pytest.approx(right.mean())


def test_accuracy_intervals_match_the_textbook_wilson_formula() -> None:
    z = NormalDist().inv_cdf(0.975)
    for row in accuracy_by_condition(_trials()).itertuples():
        n, p = row.n_trials, row.n_correct / row.n_trials
        centre = (row.n_correct + z * z / 2) / (n + z * z)
        half = z * np.sqrt(n) / (n + z * z) * np.sqrt(p * (1 - p) + z * z / (4 * n))
        expected = (max(centre - half, 0.0), min(centre + half, 1.0))
        assert (row.ci_low, row.ci_high) == pytest.approx(expected, abs=1e-12)


def test_stimulus_difficulty_leaves_a_condition_never_shown_as_nan() -> None:
    trials = _helped_on_s1()
    trials = trials.loc[~((trials["stimulus"] == "s1") & (trials["condition"] == "audible"))]
    table = stimulus_difficulty(trials, levels=["visual", "audible"]).set_index("stimulus")
    assert table.loc["s1", "n_audible"] == 0
    assert np.isnan(table.loc["s1", "ci_low_audible"])
    assert np.isnan(table.loc["s1", "ci_high_audible"])


def test_accuracy_by_condition_names_a_missing_column() -> None:
    with pytest.raises(ValueError, match="trials: missing column 'answer_correct'"):
        accuracy_by_condition(_trials().drop(columns="answer_correct"))


def test_calibration_bins_partition_the_trials() -> None:
    trials = _trials()
    table = confidence_calibration(trials)
    assert (
        table.groupby("condition")["n_trials"].sum().to_dict()
        == trials.groupby("condition").size().to_dict()
    )
    assert (table["mean_confidence"] >= table["bin_low"]).all()
    assert (table["mean_confidence"] <= table["bin_high"]).all()
    summary = calibration_summary(trials).set_index("condition")
    brier = (
        ((trials["confidence"] / 100 - trials["answer_correct"]) ** 2)
        .groupby(trials["condition"])
        .mean()
    )
    assert summary["brier"].to_dict() == pytest.approx(brier.to_dict())


def test_rating_summary_shares_sum_to_one() -> None:
    table = rating_summary(_trials())
    shares = table[[f"p_{i}" for i in range(1, 8)]].sum(axis=1)
    assert shares.to_numpy() == pytest.approx(1.0)
    assert (table["q1"] <= table["median"]).all() and (table["median"] <= table["q3"]).all()


def _helped_on_s1() -> pd.DataFrame:
    rows = (
        [("s1", "visual", False)] * 30
        + [("s1", "audible", True)] * 30
        + [("s2", "visual", True)] * 15
        + [("s2", "visual", False)] * 15
        + [("s2", "audible", True)] * 15
        + [("s2", "audible", False)] * 15
    )
    return pd.DataFrame(rows, columns=["stimulus", "condition", "answer_correct"])


def test_stimulus_difficulty_gives_the_difference_of_the_last_and_first_condition() -> None:
    table = stimulus_difficulty(_helped_on_s1(), levels=["visual", "audible"]).set_index("stimulus")
    assert table.loc["s1", "difference"] == pytest.approx(1.0)
    assert table.loc["s2", "difference"] == pytest.approx(0.0)
    assert "verdict" not in table.columns  # verdicts need multiplicity control: analysis.stimuli


def test_stimulus_effects_flag_only_differences_that_survive_fdr_control() -> None:
    table = stimulus_effects(_helped_on_s1(), a="visual", b="audible").set_index("stimulus")
    assert table.loc["s1", "verdict"] == "helped"
    assert table.loc["s2", "verdict"] == "no clear difference"
    assert table.loc["s1", "p_value"] == pytest.approx(
        fisher_exact([[30, 0], [0, 30]]).pvalue, rel=1e-12
    )
    # BH with two tests: the smaller p doubled (capped by the larger).
    assert table.loc["s1", "q_value"] == pytest.approx(min(1.0, 2 * table.loc["s1", "p_value"]))


def test_a_stimulus_difference_in_noise_gets_no_verdict() -> None:
    rng = np.random.default_rng(0)
    n = 80 * 20
    trials = pd.DataFrame(
        {
            "stimulus": np.repeat([f"s{i}" for i in range(80)], 20),
            "condition": np.tile(["visual", "audible"], n // 2),
            "answer_correct": rng.random(n) < 0.6,
        }
    )
    table = stimulus_effects(trials, a="visual", b="audible")
    assert len(table) == 80
    assert (table["verdict"] == "no clear difference").all()
    assert (
        (table["ci_low"] <= table["difference"]) & (table["difference"] <= table["ci_high"])
    ).all()
