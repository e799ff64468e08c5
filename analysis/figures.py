"""Figures of the report (matplotlib, Agg backend, PNG). Each takes a tidy table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

_DPI = 120
_SPLIT_STYLE = {"all": ("black", "o"), "right": ("tab:green", "^"), "wrong": ("tab:red", "v")}


def _yerr(table: pd.DataFrame, centre: str, low: str, high: str) -> np.ndarray:
    """Error-bar lengths, clipped at 0 (rounding can put an interval end a hair inside)."""
    return np.clip(np.vstack([table[centre] - table[low], table[high] - table[centre]]), 0.0, None)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def accuracy_figure(table: pd.DataFrame, levels: Sequence[str], path: Path) -> Path:
    """Accuracy per condition with 95% Wilson intervals, overall and by model correctness.

    ``table`` is ``accuracy_by_condition`` output.
    """
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(levels), 3.6))
    offsets = {"all": -0.18, "right": 0.0, "wrong": 0.18}
    for split, (colour, marker) in _SPLIT_STYLE.items():
        part = table.loc[table["model_correct"] == split].set_index("condition").reindex(levels)
        if part["accuracy"].isna().all():
            continue
        x = np.arange(len(levels)) + offsets[split]
        err = _yerr(part, "accuracy", "ci_low", "ci_high")
        label = {"all": "all trials", "right": "model right", "wrong": "model wrong"}[split]
        ax.errorbar(x, part["accuracy"], yerr=err, fmt=marker, color=colour, capsize=3, label=label)
    ax.set_xticks(np.arange(len(levels)), levels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("forward-simulation accuracy")
    ax.axhline(0.1, color="grey", lw=0.8, ls=":", label="chance (10 classes)")
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def rt_figure(
    trials: pd.DataFrame, levels: Sequence[str], path: Path, *, rt: str = "rt_ms"
) -> Path:
    """Response-time distributions per condition (histograms on a log axis)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    data = trials.loc[trials[rt] > 0]
    if data.empty:
        ax.text(0.5, 0.5, "no response times", ha="center", transform=ax.transAxes)
        return _save(fig, path)
    edges = np.logspace(np.log10(data[rt].min()), np.log10(data[rt].max()), 50)
    for level in levels:
        values = data.loc[data["condition"] == level, rt]
        if len(values):
            ax.hist(
                values,
                bins=edges,
                density=True,
                histtype="step",
                lw=1.5,
                label=f"{level} (median {values.median():.0f} ms)",
            )
    ax.set_xscale("log")
    ax.set_xlabel("response time (ms, log scale)")
    ax.set_ylabel("density")
    ax.legend(fontsize=7)
    return _save(fig, path)


def stimulus_figure(table: pd.DataFrame, levels: Sequence[str], path: Path) -> Path:
    """Per-stimulus accuracy: first vs last condition (points above the diagonal: the
    last condition's explanation helped), or sorted accuracies with one condition."""
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    if len(levels) >= 2:
        a, b = levels[0], levels[-1]
        colour = np.where(
            table.get("model_correct", pd.Series(True, index=table.index)).astype(bool),
            "tab:green",
            "tab:red",
        )
        size = 10 + 40 * (table["n_trials"] / max(table["n_trials"].max(), 1))
        ax.scatter(
            table[f"accuracy_{a}"], table[f"accuracy_{b}"], s=size, c=colour, alpha=0.6, lw=0
        )
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8)
        ax.set_xlabel(f"accuracy, {a}")
        ax.set_ylabel(f"accuracy, {b}")
        ax.set_title("per stimulus (green: model right, red: wrong)", fontsize=8)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
    else:
        ordered = table.sort_values("accuracy")
        ax.plot(np.arange(len(ordered)), ordered["accuracy"], "o", ms=3)
        ax.set_xlabel("stimulus (sorted)")
        ax.set_ylabel("accuracy")
    return _save(fig, path)


def calibration_figure(table: pd.DataFrame, levels: Sequence[str], path: Path) -> Path:
    """Reliability diagram: accuracy (95% Wilson) against mean confidence per bin."""
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    ax.plot([0, 100], [0, 1], color="grey", lw=0.8, label="perfect calibration")
    for level in levels:
        part = table.loc[table["condition"] == level]
        if part.empty:
            continue
        err = _yerr(part, "accuracy", "ci_low", "ci_high")
        ax.errorbar(
            part["mean_confidence"], part["accuracy"], yerr=err, fmt="o-", capsize=2, label=level
        )
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 1)
    ax.set_xlabel("stated confidence (%)")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def exclusion_figure(flow: pd.DataFrame, path: Path) -> Path:
    """Exclusion flow: participants remaining after each rule, with how many it removed."""
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(flow) + 1.0))
    y = np.arange(len(flow))[::-1]
    ax.barh(y, flow["participants_remaining"], color="tab:blue", alpha=0.7)
    for yi, (_, row) in zip(y, flow.iterrows(), strict=True):
        removed = [
            f"-{row[key]} {what}"
            for key, what in (
                ("participants_removed", "participants"),
                ("trials_removed", "trials"),
            )
            if row[key]
        ]
        note = f"{row['participants_remaining']} left" + (
            f"  ({', '.join(removed)})" if removed else ""
        )
        ax.text(
            0.01 * max(flow["participants_remaining"].max(), 1), yi, note, va="center", fontsize=7
        )
    ax.set_yticks(y, flow["rule"], fontsize=7)
    ax.set_xlabel("participants remaining")
    return _save(fig, path)


def power_figure(table: pd.DataFrame, path: Path) -> Path:
    """Power (with Monte Carlo 95% interval) against the number of participants."""
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    err = _yerr(table, "power", "ci_low", "ci_high")
    ax.errorbar(table["n_participants"], table["power"], yerr=err, fmt="o-", capsize=3)
    ax.axhline(0.8, color="grey", lw=0.8, ls="--")
    ax.set_ylim(0, 1)
    ax.set_xlabel("participants (total)")
    ax.set_ylabel("power")
    return _save(fig, path)
