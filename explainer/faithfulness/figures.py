"""Figures of a faithfulness run: perturbation curves per method, accuracy per attenuated band (PNG, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STYLE = {
    "morf": ("#c0392b", "-", "most relevant first (MoRF)"),
    "lerf": ("#2c7bb6", "-", "least relevant first (LeRF)"),
    "random": ("#555555", "--", "random order"),
}


def plot_curves(summary: dict[str, Any], shares: list[float], path: Path) -> None:
    """One column per method: the explained class's mean probability (top) and accuracy (bottom)
    against the share of regions removed, with the random baseline in every panel."""
    methods = [m for m in summary if m != "random"]
    fig, axes = plt.subplots(
        2, len(methods), figsize=(4.2 * len(methods), 6.4), squeeze=False, sharey="row"
    )
    x = 100 * np.asarray(shares)
    for col, method in enumerate(methods):
        for row, (key, label) in enumerate(
            (("probability", "p(explained class)"), ("accuracy", "accuracy"))
        ):
            ax = axes[row, col]
            for order in ("morf", "lerf", "random"):
                colour, line, name = STYLE[order]
                values = (summary["random"] if order == "random" else summary[method][order])[key]
                ax.plot(x, values, line, color=colour, marker="o", ms=3, label=name)
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
            ax.set_xlabel("regions removed (%)")
            if col == 0:
                ax.set_ylabel(label)
        aopc = summary[method]["aopc_morf"]
        axes[0, col].set_title(
            f"{method}\nAOPC MoRF {aopc['mean']:.3f} [{_fmt(aopc['ci_low'])}, {_fmt(aopc['ci_high'])}]"
            f", random {summary['random']['aopc']['mean']:.3f}",
            fontsize=9,
        )
    axes[0, 0].legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_bands(rows: list[dict[str, Any]], baseline: float, path: Path) -> None:
    """Top: accuracy change per attenuated frequency band, the band each method marks most
    relevant in red and labelled. Bottom: each method's share of summed relevance per band."""
    fig, (ax, ax_rel) = plt.subplots(2, 1, figsize=(7.5, 6.0), sharex=True)
    centres = np.array([(r["low_hz"] + r["high_hz"]) / 2000 for r in rows])
    width = 0.9 * (rows[0]["high_hz"] - rows[0]["low_hz"]) / 1000
    colours = ["#c0392b" if r["most_relevant_for"] else "#999999" for r in rows]
    ax.bar(centres, [100 * r["accuracy_change"] for r in rows], width=width, color=colours)
    for c, r in zip(centres, rows, strict=True):
        if r["most_relevant_for"]:
            ax.annotate(
                "\n".join(r["most_relevant_for"]), (c, 0), fontsize=7, ha="center", va="bottom"
            )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("accuracy change (points)")
    ax.set_title(
        f"attenuating one band at a time (accuracy unattenuated {100 * baseline:.1f} %)",
        fontsize=9,
    )
    methods = list(rows[0]["relevance_share"])
    step = width / max(1, len(methods))
    for j, method in enumerate(methods):
        shares = [r["relevance_share"][method] for r in rows]
        ax_rel.bar(centres - width / 2 + (j + 0.5) * step, shares, width=step, label=method)
    ax_rel.axhline(0, color="black", lw=0.8)
    ax_rel.set_ylabel("share of summed relevance")
    ax_rel.set_xlabel("band (kHz)")
    ax_rel.legend(fontsize=7)
    for a in (ax, ax_rel):
        a.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
