"""Analyses of the study designs beyond one explanation per trial (docs/study-designs.md).

- Learning then test (Hase & Bansal 2020): mixed logit of test-block accuracy on
  condition, with each participant's pre-test accuracy as a covariate.
- Cue detection (model comparison): accuracy and two-alternative d' per condition.
- Preference: mixed logit of choosing one method over the other, with the position it
  was shown in as a covariate (a two-item Bradley-Terry model with a position effect).

Tidy in, tidy out: each function takes the export's long ``trials`` frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from analysis._checks import check_columns
from analysis._errors import NotEnoughData
from analysis.descriptive import signal_detection
from analysis.glmm import CrossedGLMMResult, fit_crossed_glmm

PAIR_FIRST = "first"


def learning_test_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """Test-block trials of a learning-then-test study, with ``pretest_accuracy``.

    Returns the ``main`` trials of ``design == "learning_test"`` plus
    ``pretest_accuracy`` (the participant's share of correct pre-test answers, NaN
    without a pre-test) and ``pretest_centred`` (minus its mean over participants).
    """
    check_columns(
        trials,
        {"design": "any", "trial_kind": "any", "participant": "any", "answer_correct": "bool"},
        where="trials",
    )
    study = trials.loc[trials["design"] == "learning_test"]
    pre = (
        study.loc[study["trial_kind"] == "pretest"]
        .groupby("participant")["answer_correct"]
        .mean()
        .rename("pretest_accuracy")
    )
    test = study.loc[study["trial_kind"] == "main"].join(pre, on="participant")
    centre = pre.mean() if len(pre) else np.nan
    return test.assign(pretest_centred=test["pretest_accuracy"] - centre).reset_index(drop=True)


def learning_test_summary(trials: pd.DataFrame) -> pd.DataFrame:
    """Per condition: ``n_participants``, ``pretest_accuracy``, ``test_accuracy``, ``change``.

    Means of per-participant accuracies; ``change`` is test minus pre-test over the
    participants who have both.
    """
    test = learning_test_trials(trials)
    per = (
        test.groupby(["condition", "participant"])
        .agg(
            test_accuracy=("answer_correct", "mean"), pretest_accuracy=("pretest_accuracy", "first")
        )
        .reset_index()
    )
    per["change"] = per["test_accuracy"] - per["pretest_accuracy"]
    return (
        per.groupby("condition")
        .agg(
            n_participants=("participant", "nunique"),
            pretest_accuracy=("pretest_accuracy", "mean"),
            test_accuracy=("test_accuracy", "mean"),
            change=("change", "mean"),
        )
        .reset_index()
    )


def fit_learning_test(
    trials: pd.DataFrame, *, levels: Sequence[str] | None = None
) -> CrossedGLMMResult:
    """``test correct ~ condition + pretest_centred + (1|participant) + (1|stimulus)``.

    Without a pre-test the covariate is left out.
    """
    test = learning_test_trials(trials)
    has_pretest = test["pretest_accuracy"].notna().all() and len(test)
    return fit_crossed_glmm(
        test, covariates=("pretest_centred",) if has_pretest else (), levels=levels
    )


def cue_detection(trials: pd.DataFrame) -> pd.DataFrame:
    """Accuracy (Wilson 95% CI) and two-alternative d' per condition of a cue-detection study.

    A trial's signal is "the cued model's explanation came first"; answering ``first``
    then is a hit. For a two-alternative forced choice d' = (z(H) - z(F)) / sqrt(2)
    (Macmillan & Creelman 2005, ch. 7).

    Returns
    -------
    DataFrame with ``condition``, ``n_trials``, ``n_correct``, ``accuracy``, ``ci_low``,
    ``ci_high``, ``hit_rate``, ``false_alarm_rate``, ``dprime``, ``dprime_ci_low``,
    ``dprime_ci_high``.
    """
    check_columns(
        trials,
        {
            "task": "any",
            "trial_kind": "any",
            "condition": "any",
            "answer": "any",
            "answer_correct": "bool",
        },
        where="trials",
    )
    pairs = trials.loc[(trials["task"] == "model_comparison") & (trials["trial_kind"] == "main")]
    if pairs.empty:
        raise NotEnoughData("no cue-detection trials")
    correct = pairs["answer_correct"].astype(bool)
    # The cued explanation came first exactly when "first" was right (or "second" wrong).
    pairs = pairs.assign(cued_first=(pairs["answer"] == PAIR_FIRST) == correct)
    sdt = signal_detection(pairs, signal="cued_first", yes=PAIR_FIRST)
    rates = pairs.groupby("condition")["answer_correct"].agg(n_trials="size", n_correct="sum")
    out = rates.reset_index().merge(sdt, on="condition")
    out["n_correct"] = out["n_correct"].astype(int)
    out["accuracy"] = out["n_correct"] / out["n_trials"]
    out["ci_low"], out["ci_high"] = proportion_confint(
        out["n_correct"], out["n_trials"], method="wilson"
    )
    for col in ("dprime", "dprime_ci_low", "dprime_ci_high"):
        out[col] = out[col] / np.sqrt(2.0)
    return out[
        [
            "condition",
            "n_trials",
            "n_correct",
            "accuracy",
            "ci_low",
            "ci_high",
            "hit_rate",
            "false_alarm_rate",
            "dprime",
            "dprime_ci_low",
            "dprime_ci_high",
        ]
    ]


def preference_choices(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per preference trial: ``method_a``, ``method_b`` (sorted), ``chose_b``, ``b_first``.

    ``b_first`` is +0.5 when ``method_b`` was shown first and -0.5 otherwise, so the
    intercept of a model on it is the preference at balanced positions.
    """
    check_columns(
        trials,
        {
            "task": "any",
            "trial_kind": "any",
            "method": "any",
            "partner_method": "any",
            "answer": "any",
        },
        where="trials",
    )
    rows = trials.loc[(trials["task"] == "preference") & (trials["trial_kind"] == "main")]
    first, second = rows["method"].astype(str), rows["partner_method"].astype(str)
    method_a = np.minimum(first, second)
    method_b = np.maximum(first, second)
    chosen = np.where(rows["answer"] == PAIR_FIRST, first, second)
    return rows.assign(
        method_a=method_a,
        method_b=method_b,
        chose_b=chosen == method_b,
        b_first=np.where(first == method_b, 0.5, -0.5),
    ).reset_index(drop=True)


def preference_model(trials: pd.DataFrame) -> pd.DataFrame:
    """Per pair of methods: ``chose_b ~ b_first + (1|participant) + (1|stimulus)`` (logit).

    Returns
    -------
    DataFrame with ``method_a``, ``method_b``, ``n_trials``, ``share_b`` (raw),
    ``log_odds_b``, ``ci_low``, ``ci_high`` (the preference for b at balanced
    positions), ``odds_ratio_b``, ``position_log_odds`` with ``position_ci_low``,
    ``position_ci_high`` (the advantage of being shown first), ``sd_participant``.
    """
    choices = preference_choices(trials)
    if choices.empty:
        raise NotEnoughData("no preference trials")
    rows = []
    for (a, b), pair in choices.groupby(["method_a", "method_b"]):
        fit = fit_crossed_glmm(pair, outcome="chose_b", condition=None, covariates=("b_first",))
        intercept, position = fit.term("Intercept"), fit.term("b_first")
        rows.append(
            {
                "method_a": a,
                "method_b": b,
                "n_trials": len(pair),
                "share_b": float(pair["chose_b"].mean()),
                "log_odds_b": float(intercept["estimate"]),
                "ci_low": float(intercept["ci_low"]),
                "ci_high": float(intercept["ci_high"]),
                "odds_ratio_b": float(intercept["odds_ratio"]),
                "position_log_odds": float(position["estimate"]),
                "position_ci_low": float(position["ci_low"]),
                "position_ci_high": float(position["ci_high"]),
                "sd_participant": fit.sd_participant,
            }
        )
    return pd.DataFrame(rows)
