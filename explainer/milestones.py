"""Checkpoints at accuracy milestones: earlier, weaker models of the same run.

A source of wrong decisions for informative bundles: a model that is right on nearly
every held-out clip leaves few wrong decisions to explain, while the same network at an
earlier epoch errs more. During training, the first epoch whose validation accuracy
reaches a new milestone (0.2, 0.3, ..., 0.9) is saved as a run folder of its own,
``RUN/milestones/val-acc-0.60/`` (``config.json``, ``model.pt``, and at the end of training
a ``summary.json`` with its test accuracy), so every command that takes ``--run`` takes
it; ``bundle --checkpoint-accuracy A`` picks the one whose test accuracy is closest to A.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from explainer import run_files as rf
from explainer.errors import UserError

MILESTONE_FILE = "milestone.json"  # the epoch row that reached the milestone
MILESTONES = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def milestone_dir(run_dir: Path, milestone: float) -> Path:
    return Path(run_dir) / rf.MILESTONES_DIR / f"val-acc-{milestone:.2f}"


def save_milestone(run_dir: Path, state_dict: dict[str, Any], row: dict[str, Any]) -> Path | None:
    """Save ``state_dict`` if epoch ``row`` reached a milestone not saved before (resumable)."""
    reached = [m for m in MILESTONES if row["val_accuracy"] >= m]
    if not reached or milestone_dir(run_dir, reached[-1]).exists():
        return None
    if any(milestone_dir(run_dir, m).exists() for m in MILESTONES if m > reached[-1]):
        return None  # a later, better epoch was saved already
    folder = milestone_dir(run_dir, reached[-1])
    staging = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copy2(Path(run_dir) / rf.CONFIG_NAME, staging / rf.CONFIG_NAME)
    rf.save_torch(staging / rf.MODEL_NAME, state_dict)
    rf.write_json(staging / MILESTONE_FILE, {"milestone": reached[-1], **row})
    staging.rename(folder)
    return folder


def milestone_runs(run_dir: Path) -> list[Path]:
    """The run's milestone folders, lowest milestone first."""
    folder = Path(run_dir) / rf.MILESTONES_DIR
    return sorted(p for p in folder.glob("val-acc-*") if (p / rf.MODEL_NAME).is_file())


def pick_milestone(run_dir: Path, accuracy: float) -> Path:
    """The finished milestone run whose test accuracy is closest to ``accuracy``.

    Raises
    ------
    UserError
        If ``accuracy`` is not within (0, 1] or the run has no finished milestones.
    """
    if not 0 < accuracy <= 1:
        raise UserError(f"--checkpoint-accuracy must be within (0, 1], got {accuracy:g}")
    done = [p for p in milestone_runs(run_dir) if (p / rf.SUMMARY_NAME).is_file()]
    if not done:
        raise UserError(f"{run_dir}: no accuracy-milestone checkpoints (train again to keep them)")
    return min(
        done, key=lambda p: abs(rf.read_json(p / rf.SUMMARY_NAME)["test_accuracy"] - accuracy)
    )


def finish_milestones(run_dir: Path, test_accuracy: Callable[[Path], tuple[float, int]]) -> None:
    """Write each milestone's ``summary.json`` with its test accuracy (the run is finished).

    ``test_accuracy`` maps a weights file to (accuracy, clips) on the run's test speakers.
    """
    for folder in milestone_runs(run_dir):
        accuracy, n = test_accuracy(folder / rf.MODEL_NAME)
        milestone = rf.read_json(folder / MILESTONE_FILE)
        summary = {
            "test_accuracy": accuracy,
            "test_n": n,
            "milestone": milestone,
            "weights_sha256": rf.sha256_of(folder / rf.MODEL_NAME),
        }
        rf.write_json(folder / rf.SUMMARY_NAME, summary)
