"""Analyses of learning then test, cue detection and preference, checked by hand and against lme4."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.designs import (
    cue_detection,
    fit_learning_test,
    learning_test_summary,
    preference_choices,
    preference_model,
)

METHODS = ("gradient-x-input", "lrp-epsilon-plus-flat")


def _learning_trials(seed: int = 0, n_per_arm: int = 30) -> pd.DataFrame:
    """Pre-test (8) and test (12) trials; the visual arm gains 1.2 log-odds in the test block."""
    rng = np.random.default_rng(seed)
    rows = []
    for arm, gain in (("none", 0.0), ("visual", 1.2)):
        for p in range(n_per_arm):
            skill = rng.normal(0, 0.8)
            name = f"{arm}-{p}"
            for kind, n, effect in (("pretest", 8, 0.0), ("main", 12, gain)):
                for j in range(n):
                    stim = f"{kind}-{rng.integers(40)}"
                    y = rng.random() < 1 / (1 + np.exp(-(-0.3 + skill + effect)))
                    rows.append((name, arm, kind, stim, bool(y), j))
    frame = pd.DataFrame(
        rows,
        columns=["participant", "condition", "trial_kind", "stimulus", "answer_correct", "j"],
    )
    return frame.assign(design="learning_test", task="forward")


def test_learning_then_test_recovers_the_explanation_gain_adjusting_for_the_pretest() -> None:
    fit = fit_learning_test(_learning_trials(), levels=["none", "visual"])
    gain = fit.term("condition[visual]")
    assert gain["ci_low"] < 1.2 < gain["ci_high"] and gain["ci_low"] > 0
    assert fit.term("pretest_centred")["estimate"] > 0, "the pre-test predicts the test block"
    summary = learning_test_summary(_learning_trials()).set_index("condition")
    assert summary.loc["visual", "change"] > summary.loc["none", "change"]


def _cue_trials() -> pd.DataFrame:
    # condition "visual": cued first on 10 trials (8 answered first), second on 10 (3 answered first)
    rows = []
    for cued_first, n_first in ((True, 8), (False, 3)):
        for k in range(10):
            answer = "first" if k < n_first else "second"
            rows.append(("visual", answer, (answer == "first") == cued_first))
    frame = pd.DataFrame(rows, columns=["condition", "answer", "answer_correct"])
    return frame.assign(task="model_comparison", trial_kind="main")


def test_cue_detection_reports_accuracy_and_two_alternative_dprime_as_computed_by_hand() -> None:
    (row,) = cue_detection(_cue_trials()).to_dict(orient="records")
    assert row["n_trials"] == 20 and row["n_correct"] == 8 + 7
    hit, fa = (8 + 0.5) / 11, (3 + 0.5) / 11  # log-linear correction (Hautus 1995)
    expected = (stats.norm.ppf(hit) - stats.norm.ppf(fa)) / np.sqrt(2)
    assert row["dprime"] == pytest.approx(expected)
    assert row["ci_low"] < 0.75 < row["ci_high"]


def _preference_trials(seed: int = 1) -> pd.DataFrame:
    """b is preferred with log-odds 1.1; being shown first adds 0.6."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(40):
        lean = rng.normal(0, 0.5)
        for j in range(10):
            b_first = j % 2 == 0
            logit = 1.1 + lean + (0.3 if b_first else -0.3)
            chose_b = rng.random() < 1 / (1 + np.exp(-logit))
            first, second = (METHODS[1], METHODS[0]) if b_first else METHODS
            chose_first = chose_b == b_first
            rows.append(
                (
                    f"p{p}",
                    f"s{rng.integers(30)}",
                    first,
                    second,
                    "first" if chose_first else "second",
                )
            )
    frame = pd.DataFrame(
        rows, columns=["participant", "stimulus", "method", "partner_method", "answer"]
    )
    return frame.assign(task="preference", trial_kind="main", condition="visual")


def test_preference_estimates_the_preferred_method_and_the_position_effect() -> None:
    (row,) = preference_model(_preference_trials()).to_dict(orient="records")
    assert (row["method_a"], row["method_b"]) == METHODS
    assert row["ci_low"] < 1.1 < row["ci_high"] and row["ci_low"] > 0
    assert row["position_ci_low"] < 0.6 < row["position_ci_high"]


def test_a_design_analysis_names_the_missing_column() -> None:
    with pytest.raises(ValueError, match="missing column 'partner_method'"):
        preference_choices(_preference_trials().drop(columns="partner_method"))


_R_GLMER = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
m <- glmer(as.formula(args[2]), data = d, family = binomial)
for (i in seq_along(fixef(m))) cat(sprintf("%s %.10f\n", names(fixef(m))[i], fixef(m)[i]))
"""


def _glmer(data: pd.DataFrame, formula: str, tmp_path: Path) -> list[float]:
    rscript = shutil.which("Rscript")
    if rscript is None:
        pytest.skip("Rscript is not installed")
    data.to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "fit.R").write_text(_R_GLMER)
    out = subprocess.run(
        [rscript, str(tmp_path / "fit.R"), str(tmp_path / "d.csv"), formula],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    return [float(line.split()[1]) for line in out.splitlines()]


@pytest.mark.r
def test_the_learning_then_test_and_preference_models_agree_with_lme4(tmp_path: Path) -> None:
    trials = _learning_trials()
    fit = fit_learning_test(trials, levels=["none", "visual"])
    test = trials.loc[trials["trial_kind"] == "main"].copy()
    pre = trials.loc[trials["trial_kind"] == "pretest"].groupby("participant")["answer_correct"]
    test["pre"] = test["participant"].map(pre.mean())
    test["pre"] -= pre.mean().mean()
    test["y"] = test["answer_correct"].astype(int)
    reference = _glmer(test, "y ~ condition + pre + (1 | participant) + (1 | stimulus)", tmp_path)
    np.testing.assert_allclose(fit.coefficients["estimate"], reference, atol=2e-3)

    choices = preference_choices(_preference_trials()).assign(y=lambda d: d["chose_b"].astype(int))
    (row,) = preference_model(_preference_trials()).to_dict(orient="records")
    r_fit = _glmer(choices, "y ~ b_first + (1 | participant) + (1 | stimulus)", tmp_path)
    np.testing.assert_allclose([row["log_odds_b"], row["position_log_odds"]], r_fit, atol=2e-3)
