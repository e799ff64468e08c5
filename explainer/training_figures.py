"""Figures of a training run: learning curves and the test confusion matrix (PNG, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig: Any, path: Path) -> None:
    """Save through a temporary name so a reader never sees half a PNG."""
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)


def plot_learning_curves(history: Sequence[dict[str, Any]], path: Path, *, title: str = "") -> Path:
    """Loss and accuracy per epoch (training and validation), best epoch marked."""
    epochs = [int(r["epoch"]) for r in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, label in (("train", "training"), ("val", "validation")):
        ax_loss.plot(
            epochs, [float(r[f"{key}_loss"]) for r in history], marker="o", ms=3, label=label
        )
        ax_acc.plot(
            epochs,
            [100 * float(r[f"{key}_accuracy"]) for r in history],
            marker="o",
            ms=3,
            label=label,
        )
    best = [int(r["epoch"]) for r in history if int(r["best"])]
    if best:
        for ax in (ax_loss, ax_acc):
            ax.axvline(best[-1], color="grey", ls=":", lw=1, label=f"kept (epoch {best[-1]})")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(0, 101))
    ax_acc.legend(loc="lower right")
    fig.suptitle(title)
    _save(fig, path)
    return path


def plot_confusion_matrix(
    matrix: np.ndarray, classes: Sequence[str], path: Path, *, title: str = ""
) -> Path:
    """Counts per (true, predicted) class, coloured by the share of each true class."""
    matrix = np.asarray(matrix)
    shares = matrix / np.maximum(1, matrix.sum(axis=1, keepdims=True))
    size = 2.0 + 0.45 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(
                j,
                i,
                str(matrix[i, j]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if shares[i, j] > 0.6 else "black",
            )
    ax.set_xticks(range(len(classes)), classes, rotation=45 if max(map(len, classes)) > 2 else 0)
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted", ylabel="true")
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set_title(f"{title}\naccuracy {100 * accuracy:.1f}% of {matrix.sum()} clips", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of true class")
    _save(fig, path)
    return path


def plot_speaker_accuracy(
    per_speaker: dict[str, dict[str, float]], chance: float, path: Path, *, title: str = ""
) -> Path:
    """Test accuracy of each held-out speaker (bars, clip counts above), chance as a line."""
    speakers = list(per_speaker)
    accuracy = [100 * per_speaker[s]["accuracy"] for s in speakers]
    fig, ax = plt.subplots(figsize=(2.5 + 0.45 * len(speakers), 3.5))
    bars = ax.bar(range(len(speakers)), accuracy, color="tab:blue")
    for bar, speaker in zip(bars, speakers, strict=True):
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            bar.get_height() + 1,
            f"n={per_speaker[speaker]['n']}",
            ha="center",
            fontsize=7,
        )
    ax.axhline(100 * chance, color="grey", ls=":", lw=1, label=f"chance ({100 * chance:.0f}%)")
    ax.set_xticks(range(len(speakers)), speakers, rotation=45 if len(speakers) > 8 else 0)
    ax.set(xlabel="test speaker", ylabel="accuracy (%)", ylim=(0, 110), title=title)
    ax.legend(loc="upper right", fontsize=8)
    _save(fig, path)
    return path
