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


def _yerr(table: pd.DataFrame, centre: str, low: str, high: str) -> np.ndarray:
    """Error-bar lengths, clipped at 0 (rounding can put an interval end a hair inside)."""
    return np.clip(np.vstack([table[centre] - table[low], table[high] - table[centre]]), 0.0, None)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)
    return path


def _legend_below(ax: plt.Axes, ncol: int = 3) -> None:
    """Legend under the axes, where it cannot cover data."""
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=ncol, frameon=False)


def accuracy_figure(
    means: pd.DataFrame,
    participants: pd.DataFrame,
    levels: Sequence[str],
    path: Path,
    *,
    chance: float | None,
    seed: int = 0,
) -> Path:
    """Model-based accuracy per condition over per-participant points.

    ``means`` is ``marginal_means`` output (``condition``, ``probability``,
    ``ci_low``, ``ci_high``); ``participants`` is ``participant_accuracy`` output.
    ``chance`` is 1 / number of answer options (None: no line). ``seed`` fixes
    the horizontal jitter of the points.
    """
    fig, ax = plt.subplots(figsize=(2.4 + 1.2 * len(levels), 4.4))
    rng = np.random.default_rng(seed)
    for i, level in enumerate(levels):
        acc = participants.loc[participants["condition"] == level, "accuracy"]
        ax.scatter(
            i - 0.12 + rng.uniform(-0.08, 0.08, len(acc)),
            acc,
            s=9,
            color="grey",
            alpha=0.45,
            lw=0,
            label="participant accuracy" if i == 0 else None,
        )
    shown = means.set_index("condition").reindex(levels)
    ax.errorbar(
        np.arange(len(levels)) + 0.12,
        shown["probability"],
        yerr=_yerr(shown, "probability", "ci_low", "ci_high"),
        fmt="o",
        color="black",
        capsize=4,
        label="model estimate, 95% CI",
    )
    if chance is not None:
        ax.axhline(chance, color="tab:red", lw=0.8, ls=":", label=f"chance ({chance:.2g})")
    ax.set_xticks(np.arange(len(levels)), levels)
    ax.set_xlim(-0.6, len(levels) - 0.4)
    ax.set_ylim(0, 1)
    ax.set_ylabel("P(answer = model's prediction)")
    _legend_below(ax, ncol=1)
    return _save(fig, path)


def rt_figure(
    trials: pd.DataFrame,
    levels: Sequence[str],
    path: Path,
    *,
    rt: str = "rt_ms",
    annotation: str = "",
) -> Path:
    """Response-time densities per condition on a log axis.

    The density is that of log10(RT) (a kernel estimate), drawn against RT on a
    log axis, so its area is 1 on the axis as drawn and its peak sits at the
    mode of log RT (a histogram of ms on log-spaced bins, without the Jacobian,
    peaks too early). ``annotation`` (e.g. the fitted RT ratio) is printed above.
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    data = trials.loc[trials[rt] > 0]
    if data.empty:
        ax.text(0.5, 0.5, "no response times", ha="center", transform=ax.transAxes)
        return _save(fig, path)
    logs = np.log10(data[rt].to_numpy(float))
    grid = np.linspace(logs.min() - 0.1, logs.max() + 0.1, 400)
    for level in levels:
        values = np.log10(data.loc[data["condition"] == level, rt].to_numpy(float))
        if len(values) >= 2 and np.ptp(values) > 0:
            line = ax.plot(10**grid, _binned_kde(values, grid), lw=1.5, label=level)[0]
            median = float(np.median(values))
            ax.axvline(10**median, color=line.get_color(), lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("response time (ms, log scale; dashed: median)")
    ax.set_ylabel("density of log10 RT")
    if annotation:
        ax.set_title(annotation, fontsize=8)
    _legend_below(ax, ncol=max(1, len(levels)))
    return _save(fig, path)


def _binned_kde(values: np.ndarray, grid: np.ndarray, bins: int = 8000) -> np.ndarray:
    """Gaussian kernel density of ``values`` (Scott's bandwidth, as ``scipy.stats.gaussian_kde``)
    at ``grid``, from the values binned on ``bins`` cells across the grid.

    Why binned: the exact sum costs len(values) x len(grid) kernels (3 s for the 800,000
    trials of a 20,000-participant study); with cells a tenth of the bandwidth or finer
    the curve differs from the exact one by less than a line's width.
    """
    bandwidth = float(np.std(values, ddof=1)) * len(values) ** -0.2
    counts, edges = np.histogram(values, bins=bins, range=(grid[0], grid[-1]))
    centres = 0.5 * (edges[:-1] + edges[1:])
    kernel = np.exp(-0.5 * ((grid[:, None] - centres[None, :]) / bandwidth) ** 2)
    return kernel @ counts / (len(values) * bandwidth * np.sqrt(2.0 * np.pi))


def stimulus_figure(effects: pd.DataFrame, a: str, b: str, path: Path) -> Path:
    """Per-stimulus accuracy difference (``b`` minus ``a``) with 95% intervals, sorted.

    ``effects`` is ``stimulus_effects`` output; stimuli whose difference survives
    the false-discovery-rate control are drawn in colour, the rest in grey.
    """
    ordered = effects.sort_values("difference").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    colours = ordered["verdict"].map({"helped": "tab:green", "misled": "tab:red"}).fillna("grey")
    x = np.arange(len(ordered))
    ax.vlines(x, ordered["ci_low"], ordered["ci_high"], colors=colours, lw=0.8, alpha=0.7)
    ax.scatter(x, ordered["difference"], s=10, c=colours, zorder=3)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("stimulus (sorted by difference)")
    ax.set_ylabel(f"accuracy {b} − {a}")
    ax.set_ylim(-1.05, 1.05)
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
    """Power (with Monte Carlo 95% interval) against the number of participants, one
    line per stimulus pool; with several pools, a second panel against the pool size,
    one line per number of participants. Dashed: power 0.8."""
    pools = sorted(table["n_stimuli"].unique()) if "n_stimuli" in table else []
    panels = [("n_participants", "n_stimuli", "participants (total)")]
    if len(pools) > 1:
        panels.append(("n_stimuli", "n_participants", "stimuli (pool size)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.8), squeeze=False)
    for ax, (x, line, label) in zip(axes[0], panels, strict=True):
        groups = table.groupby(line, sort=True) if len(pools) > 1 else [(None, table)]
        for value, part in groups:
            part = part.sort_values(x)
            err = _yerr(part, "power", "ci_low", "ci_high")
            name = None if value is None else f"{value} {line.removeprefix('n_')}"
            ax.errorbar(part[x], part["power"], yerr=err, fmt="o-", capsize=3, label=name)
        ax.axhline(0.8, color="grey", lw=0.8, ls="--")
        ax.set_ylim(0, 1)
        ax.set_xlabel(label)
        ax.set_ylabel("power")
        if len(pools) > 1:
            _legend_below(ax)
    return _save(fig, path)


def faithfulness_figure(
    panels: Sequence[tuple[str, pd.DataFrame, pd.DataFrame]], levels: Sequence[str], path: Path
) -> Path:
    """Accuracy against each faithfulness measure, one panel per measure, per condition.

    Each panel is (x-axis label, observed, fitted). ``observed``: ``condition``,
    ``value``, ``accuracy``, ``ci_low``, ``ci_high`` (binned or per level, pooled
    trials); ``fitted``: ``condition``, ``value``, ``probability``, ``ci_low``,
    ``ci_high`` (the model's curve). A measure with two values (decision kept) is
    drawn as points at 0 and 1 instead of a curve.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (label, observed, fitted) in zip(axes[0], panels, strict=True):
        two_valued = fitted["value"].nunique() <= 2
        shift = 0.12 if two_valued else 0.0
        for i, level in enumerate(levels):
            colour, off = colours[i % len(colours)], shift * (i - (len(levels) - 1) / 2)
            obs = observed.loc[observed["condition"] == level]
            fit = fitted.loc[fitted["condition"] == level].sort_values("value")
            ax.errorbar(
                obs["value"] + off - shift / 3,
                obs["accuracy"],
                yerr=_yerr(obs, "accuracy", "ci_low", "ci_high"),
                fmt="o",
                mfc="white",
                color=colour,
                capsize=2,
                ms=5,
                label=f"{level}: observed" + ("" if two_valued else " (bins)"),
            )
            if two_valued:
                ax.errorbar(
                    fit["value"] + off + shift / 3,
                    fit["probability"],
                    yerr=_yerr(fit, "probability", "ci_low", "ci_high"),
                    fmt="s",
                    color=colour,
                    capsize=3,
                    label=f"{level}: model",
                )
            else:
                ax.plot(fit["value"], fit["probability"], color=colour, label=f"{level}: model")
                ax.fill_between(
                    fit["value"], fit["ci_low"], fit["ci_high"], color=colour, alpha=0.12, lw=0
                )
        if two_valued:
            ax.set_xticks([0, 1], ["not kept", "kept"])
            ax.set_xlim(-0.5, 1.5)
        ax.set_xlabel(label)
        ax.set_ylim(0, 1)
        ax.set_ylabel("P(answer = model's prediction)")
        _legend_below(ax, ncol=2)
    return _save(fig, path)
