"""Descriptive statistics with intervals: accuracy, signal detection, calibration, ratings.

All functions take long-format trials (one row per trial) and return tidy
DataFrames whose columns are listed in their docstrings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api.typing import DataFrameGroupBy
from scipy import special, stats
from statsmodels.stats.proportion import proportion_confint

from analysis._checks import check_columns

Z95 = float(stats.norm.ppf(0.975))


def _rate_rows(groups: DataFrameGroupBy, outcome: str, participant: str) -> pd.DataFrame:
    out = groups.agg(
        n_trials=(outcome, "size"),
        n_correct=(outcome, "sum"),
        n_participants=(participant, "nunique"),
    ).reset_index()
    out["n_correct"] = out["n_correct"].astype(int)
    out["accuracy"] = out["n_correct"] / out["n_trials"]
    out["ci_low"], out["ci_high"] = proportion_confint(
        out["n_correct"], out["n_trials"], method="wilson"
    )
    return out


def accuracy_by_condition(
    trials: pd.DataFrame,
    *,
    condition: str = "condition",
    outcome: str = "answer_correct",
    split: str | None = "model_correct",
    participant: str = "participant",
) -> pd.DataFrame:
    """Accuracy per condition with 95% Wilson intervals, overall and split by ``split``.

    The Wilson interval treats trials as independent; it describes the pooled
    proportion. Inference that respects participants and stimuli is in
    ``compare_conditions``, ``fit_gee`` and ``fit_crossed_glmm``.

    Returns
    -------
    DataFrame with ``condition``, ``model_correct`` ("all", "right", "wrong"),
    ``n_trials``, ``n_correct``, ``n_participants``, ``accuracy``, ``ci_low``, ``ci_high``.
    """
    needed = {condition: "any", outcome: "bool", participant: "any"}
    if split:
        needed[split] = "bool"
    check_columns(trials, needed, where="trials")
    data = trials.assign(**{outcome: trials[outcome].astype(bool)})
    overall = _rate_rows(data.groupby(condition, sort=True), outcome, participant)
    overall.insert(1, "model_correct", "all")
    parts = [overall]
    if split:
        label = np.where(data[split].astype(bool), "right", "wrong")
        by = _rate_rows(
            data.assign(model_correct=label).groupby([condition, "model_correct"]),
            outcome,
            participant,
        )
        parts.append(by)
    out = pd.concat(parts, ignore_index=True).rename(columns={condition: "condition"})
    return out.sort_values(["condition", "model_correct"], kind="stable").reset_index(drop=True)


def dprime(
    hit_rate: np.ndarray | float, false_alarm_rate: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Signal-detection sensitivity and criterion (Macmillan & Creelman 2005).

    ``d' = z(H) - z(F)``, ``c = -(z(H) + z(F)) / 2`` with ``z`` the standard normal
    quantile. Returns ``(d', c)``.
    """
    zh = special.ndtri(np.asarray(hit_rate, dtype=float))
    zf = special.ndtri(np.asarray(false_alarm_rate, dtype=float))
    return zh - zf, -(zh + zf) / 2.0


def signal_detection(
    trials: pd.DataFrame,
    *,
    condition: str = "condition",
    answer: str = "answer",
    signal: str = "model_correct",
    yes: str = "yes",
) -> pd.DataFrame:
    """Hit and false-alarm rates, d' and criterion per condition (verification trials).

    "Signal" is a correct model decision; a hit is answering ``yes`` (the model is
    right) to a signal trial, a false alarm answering ``yes`` to a noise trial.
    Rates use the log-linear correction (add 0.5 to counts, 1 to totals; Hautus
    1995) so that 0 and 1 stay finite. The d' standard error is the
    Gourevitch & Galanter (1967) approximation, giving a Wald 95% interval.

    Returns
    -------
    DataFrame with ``condition``, ``n_signal``, ``n_noise``, ``hits``, ``false_alarms``,
    ``hit_rate``, ``false_alarm_rate`` (raw), ``dprime``, ``criterion``, ``dprime_se``,
    ``dprime_ci_low``, ``dprime_ci_high``.
    """
    check_columns(
        trials, {condition: "any", answer: "any", signal: "bool"}, where="verification trials"
    )
    said_yes = trials[answer].astype(str) == yes
    is_signal = trials[signal].astype(bool)
    frame = pd.DataFrame(
        {
            "condition": trials[condition],
            "hit": said_yes & is_signal,
            "fa": said_yes & ~is_signal,
            "signal": is_signal,
            "noise": ~is_signal,
        }
    )
    out = (
        frame.groupby("condition")
        .agg(
            n_signal=("signal", "sum"),
            n_noise=("noise", "sum"),
            hits=("hit", "sum"),
            false_alarms=("fa", "sum"),
        )
        .reset_index()
    )
    out = out.astype({c: int for c in ("n_signal", "n_noise", "hits", "false_alarms")})
    with np.errstate(invalid="ignore", divide="ignore"):
        out["hit_rate"] = out["hits"] / out["n_signal"]
        out["false_alarm_rate"] = out["false_alarms"] / out["n_noise"]
    h = (out["hits"] + 0.5) / (out["n_signal"] + 1.0)
    f = (out["false_alarms"] + 0.5) / (out["n_noise"] + 1.0)
    out["dprime"], out["criterion"] = dprime(h, f)
    var = h * (1 - h) / ((out["n_signal"] + 1.0) * stats.norm.pdf(stats.norm.ppf(h)) ** 2) + f * (
        1 - f
    ) / ((out["n_noise"] + 1.0) * stats.norm.pdf(stats.norm.ppf(f)) ** 2)
    out["dprime_se"] = np.sqrt(var)
    out["dprime_ci_low"] = out["dprime"] - Z95 * out["dprime_se"]
    out["dprime_ci_high"] = out["dprime"] + Z95 * out["dprime_se"]
    return out


def stimulus_difficulty(
    trials: pd.DataFrame,
    *,
    condition: str = "condition",
    outcome: str = "answer_correct",
    stimulus: str = "stimulus",
    levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-stimulus accuracy in each condition: which explanations helped or misled.

    Returns
    -------
    DataFrame, one row per stimulus, sorted from hardest to easiest, with
    ``stimulus``, ``true_label``, ``predicted_label``, ``model_correct`` (when
    present), ``n_trials``, ``accuracy`` (all conditions), then for each condition
    ``n_<c>``, ``accuracy_<c>``, ``ci_low_<c>``, ``ci_high_<c>``, and, with two or
    more conditions, ``difference`` (last level minus first: positive = the
    explanation of the last condition helped on this stimulus). Which differences
    survive the multiplicity of testing every stimulus: ``analysis.stimuli``.
    """
    check_columns(trials, {condition: "any", outcome: "bool", stimulus: "any"}, where="trials")
    data = trials.assign(_y=trials[outcome].astype(bool))
    info = [c for c in ("true_label", "predicted_label", "model_correct") if c in data.columns]
    out = (
        data.groupby(stimulus)
        .agg(n_trials=("_y", "size"), accuracy=("_y", "mean"), **{c: (c, "first") for c in info})
        .reset_index()
    )
    order = list(levels) if levels else sorted(data[condition].unique())
    cells = data.groupby([stimulus, condition])["_y"].agg(["size", "sum"]).reset_index()
    for level in order:
        part = cells.loc[cells[condition] == level].set_index(stimulus)
        n = part["size"].reindex(out[stimulus]).fillna(0).to_numpy()
        k = part["sum"].reindex(out[stimulus]).fillna(0).to_numpy()
        # A stimulus never shown in this condition has n = 0: its accuracy and
        # interval are NaN (statsmodels divides by n; the warning is expected).
        with np.errstate(invalid="ignore", divide="ignore"):
            low, high = proportion_confint(k, n, method="wilson")
            out[f"n_{level}"], out[f"accuracy_{level}"] = n.astype(int), k / n
        out[f"ci_low_{level}"], out[f"ci_high_{level}"] = low, high
    if len(order) >= 2:
        a, b = order[0], order[-1]
        out["difference"] = out[f"accuracy_{b}"] - out[f"accuracy_{a}"]
    return out.sort_values(["accuracy", stimulus]).reset_index(drop=True)


def confidence_calibration(
    trials: pd.DataFrame,
    *,
    condition: str = "condition",
    outcome: str = "answer_correct",
    confidence: str = "confidence",
    bins: Sequence[float] = (0, 20, 40, 60, 80, 100),
) -> pd.DataFrame:
    """Accuracy by confidence bin per condition (a reliability table).

    Bins are closed on the left, the last also on the right (0-20, 20-40, ..., 80-100).
    ``calibration_gap`` is accuracy minus mean confidence/100 (negative = overconfident).

    Returns
    -------
    DataFrame with ``condition``, ``bin``, ``bin_low``, ``bin_high``, ``n_trials``,
    ``mean_confidence``, ``accuracy``, ``ci_low``, ``ci_high``, ``calibration_gap``.
    """
    check_columns(
        trials, {condition: "any", outcome: "bool", confidence: "numeric"}, where="trials"
    )
    data = trials.loc[trials[confidence].notna()]
    edges = np.asarray(bins, dtype=float)
    index = np.clip(
        np.searchsorted(edges, data[confidence].to_numpy(float), side="right") - 1,
        0,
        len(edges) - 2,
    )
    frame = pd.DataFrame(
        {
            "condition": data[condition].to_numpy(),
            "bin": index,
            "y": data[outcome].astype(bool).to_numpy(),
            "c": data[confidence].to_numpy(float),
        }
    )
    out = (
        frame.groupby(["condition", "bin"])
        .agg(n_trials=("y", "size"), n_correct=("y", "sum"), mean_confidence=("c", "mean"))
        .reset_index()
    )
    out["bin_low"], out["bin_high"] = edges[out["bin"]], edges[out["bin"] + 1]
    out["bin"] = [f"{lo:g}-{hi:g}" for lo, hi in zip(out["bin_low"], out["bin_high"], strict=True)]
    out["accuracy"] = out["n_correct"] / out["n_trials"]
    out["ci_low"], out["ci_high"] = proportion_confint(
        out["n_correct"], out["n_trials"], method="wilson"
    )
    out["calibration_gap"] = out["accuracy"] - out["mean_confidence"] / 100.0
    return out[
        [
            "condition",
            "bin",
            "bin_low",
            "bin_high",
            "n_trials",
            "mean_confidence",
            "accuracy",
            "ci_low",
            "ci_high",
            "calibration_gap",
        ]
    ]


def calibration_summary(
    trials: pd.DataFrame,
    *,
    condition: str = "condition",
    outcome: str = "answer_correct",
    confidence: str = "confidence",
) -> pd.DataFrame:
    """Per condition: mean confidence, accuracy, Brier score and expected calibration error.

    Returns
    -------
    DataFrame with ``condition``, ``n_trials``, ``mean_confidence`` (0-100),
    ``accuracy``, ``brier`` (mean squared error of confidence/100 vs correctness),
    ``ece`` (trial-weighted mean |accuracy - confidence| over the bins of
    ``confidence_calibration``).
    """
    table = confidence_calibration(
        trials, condition=condition, outcome=outcome, confidence=confidence
    )
    data = trials.loc[trials[confidence].notna()]
    err = (
        data[confidence].to_numpy(float) / 100.0 - data[outcome].astype(bool).to_numpy(float)
    ) ** 2
    brier = pd.Series(err, index=data.index).groupby(data[condition]).mean()
    gap = table.assign(w=table["n_trials"] * table["calibration_gap"].abs()).groupby("condition")
    out = (
        data.groupby(condition)
        .agg(
            n_trials=(outcome, "size"),
            mean_confidence=(confidence, "mean"),
            accuracy=(outcome, "mean"),
        )
        .reset_index()
        .rename(columns={condition: "condition"})
    )
    out["brier"] = out["condition"].map(brier)
    out["ece"] = out["condition"].map(gap["w"].sum() / gap["n_trials"].sum())
    return out


def rating_summary(
    trials: pd.DataFrame,
    *,
    condition: str = "condition",
    rating: str = "rating",
    scale: Sequence[int] = tuple(range(1, 8)),
) -> pd.DataFrame:
    """Ordinal summary of Likert ratings per condition.

    Returns
    -------
    DataFrame with ``condition``, ``n``, ``median``, ``q1``, ``q3``, ``mean`` and the
    share of each scale point ``p_1`` ... ``p_7``.
    """
    check_columns(trials, {condition: "any", rating: "numeric"}, where="trials")
    data = trials.loc[trials[rating].notna()]
    grouped = data.groupby(condition)[rating]
    out = pd.DataFrame(
        {
            "n": grouped.size(),
            "median": grouped.median(),
            "q1": grouped.quantile(0.25),
            "q3": grouped.quantile(0.75),
            "mean": grouped.mean(),
        }
    )
    shares = pd.crosstab(data[condition], data[rating], normalize="index")
    for point in scale:
        out[f"p_{point}"] = shares[point] if point in shares.columns else 0.0
    return out.reset_index().rename(columns={condition: "condition"})
