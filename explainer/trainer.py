"""One training run from prepared data to a finished run folder.

:class:`RunTrainer` connects the data (cached inputs per split part), the model, the loop
and the run folder's files: best weights after each improving epoch, a checkpoint after
each epoch (and every ``checkpoint_every`` steps), then the test evaluation, figures and
the summary.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from explainer import run_files as rf
from explainer.cache import preprocess
from explainer.data import RecordingTable
from explainer.milestones import finish_milestones, save_milestone
from explainer.own_model import build_network
from explainer.train_config import RunOptions, TrainConfig
from explainer.training_loop import (
    ArraySet,
    Hyper,
    Loop,
    LoopState,
    checkpoint_payload,
    evaluate,
    make_optimizer,
    restore_checkpoint,
)


class RunTrainer:
    """Train ``config`` on ``parts`` ("train", "validate", "test" tables) into ``out``."""

    def __init__(
        self,
        config: TrainConfig,
        parts: dict[str, RecordingTable],
        out: Path,
        options: RunOptions,
        data: dict[str, Any],
    ) -> None:
        self.config, self.parts, self.out, self.options, self.data = (
            config,
            parts,
            Path(out),
            options,
            data,
        )
        self.classes = config.classes
        self.loop: Loop | None = None

    def arrays(self) -> dict[str, ArraySet]:
        """Inputs and labels per part; training gets ``placements`` shifted copies of each clip."""
        result = {}
        for part, table in self.parts.items():
            # Validation and test clips are placed once, unperturbed: placement 0 of the seed.
            train = part == "train"
            pre = preprocess(
                list(table),
                self.config.representation,
                seed=self.config.seed,
                long_clips=self.config.long_clips,
                placements=self.config.placements if train else 1,
                speed_perturbation=self.config.speed_perturbation if train else 0.0,
                augment=self.config.augment if train else "none",
                cache_dir=self.options.cache_dir,
                workers=self.options.workers,
                progress=self.options.progress,
            )
            labels = np.array(
                [self.classes.index(label) for label in table.labels(self.config.task)], np.int64
            )
            result[part] = ArraySet(pre.inputs, labels)
        return result

    def build_loop(self, arrays: dict[str, ArraySet]) -> Loop:
        c = self.config
        torch.manual_seed(c.seed)  # initial weights, then dropout, come from this generator
        model = build_network(asdict(c))
        hyper = Hyper(
            seed=c.seed,
            batch_size=c.batch_size,
            epochs=c.epochs,
            max_steps=c.max_steps,
            optimizer=c.optimizer,
            lr=c.lr,
            momentum=c.momentum,
            weight_decay=c.weight_decay,
            grad_clip=c.grad_clip,
            lr_schedule=c.lr_schedule,
            patience=c.patience,
        )
        return Loop(
            model=model,
            optimizer=make_optimizer(model, hyper),
            hyper=hyper,
            train=arrays["train"],
            val=arrays["validate"],
            state=LoopState(),
            on_epoch=self._on_epoch,
            on_checkpoint=self._on_checkpoint,
            progress=self.options.progress,
        )

    def fit(self, *, resume: bool) -> dict[str, Any] | None:
        """Train (continuing the checkpoint if ``resume``); the summary, or None if stopped early."""
        arrays = self.arrays()
        self.loop = self.build_loop(arrays)
        checkpoint = self.out / rf.CHECKPOINT_NAME
        if resume and checkpoint.is_file():
            restore_checkpoint(
                self.loop, torch.load(checkpoint, map_location="cpu", weights_only=False)
            )
            print(
                f"resuming at step {self.loop.state.step} (epoch {self.loop.state.epoch + 1})",
                file=sys.stderr,
            )
        if not self.loop.run(self.options.stop_after):
            print(
                f"stopped at step {self.loop.state.step}; continue with --resume --out {self.out}",
                file=sys.stderr,
            )
            return None
        return self.finish(arrays["test"])

    def _on_epoch(self, row: dict[str, Any], best: bool) -> None:
        assert self.loop is not None
        if best:
            rf.save_torch(self.out / rf.MODEL_NAME, self.loop.model.state_dict())
        save_milestone(self.out, self.loop.model.state_dict(), row)
        rf.write_csv(self.out / rf.METRICS_NAME, rf.METRIC_COLUMNS, self.loop.state.history)

    def _on_checkpoint(self) -> None:
        assert self.loop is not None
        rf.save_torch(self.out / rf.CHECKPOINT_NAME, checkpoint_payload(self.loop))

    def finish(self, test: ArraySet) -> dict[str, Any]:
        """Evaluate the best weights on the test speakers; write predictions, figures, summary."""
        from explainer.training_figures import (
            plot_confusion_matrix,
            plot_learning_curves,
            plot_speaker_accuracy,
        )

        assert self.loop is not None
        model, state = self.loop.model, self.loop.state
        model.load_state_dict(
            torch.load(self.out / rf.MODEL_NAME, map_location="cpu", weights_only=True)
        )
        test_loss, test_acc, logits = evaluate(model, test)
        predicted = logits.argmax(1)
        confusion = confusion_matrix(test.labels, predicted, len(self.classes))
        self._write_predictions(logits)
        figures = self.out / rf.FIGURES_DIR
        figures.mkdir(exist_ok=True)
        plot_learning_curves(state.history, figures / "learning_curves.png", title=self._title())
        plot_confusion_matrix(
            confusion,
            self.classes,
            figures / "confusion_matrix.png",
            title=f"{self._title()}: test",
        )
        per_speaker = speaker_accuracy(
            [r.speaker for r in self.parts["test"]], test.labels, predicted
        )
        plot_speaker_accuracy(
            per_speaker,
            1.0 / len(self.classes),
            figures / "speaker_accuracy.png",
            title=f"{self._title()}: test speakers",
        )
        finish_milestones(self.out, lambda weights: self._test_accuracy(weights, test))
        model.load_state_dict(
            torch.load(self.out / rf.MODEL_NAME, map_location="cpu", weights_only=True)
        )
        summary = self._summary(test_loss, test_acc, confusion)
        summary["per_speaker_accuracy"] = per_speaker
        summary["stopped_early"] = self.loop.stalled()
        summary["warnings"] = training_warnings(
            state.history[state.best_epoch - 1], n_classes=len(self.classes)
        )
        for warning in summary["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        rf.write_json(self.out / rf.SUMMARY_NAME, summary)
        (self.out / rf.CHECKPOINT_NAME).unlink(missing_ok=True)
        print(
            f"test accuracy {test_acc:.4f} on {len(test.labels)} clips of held-out speakers -> {self.out}",
            file=sys.stderr,
        )
        return summary

    def _test_accuracy(self, weights: Path, test: ArraySet) -> tuple[float, int]:
        assert self.loop is not None
        self.loop.model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        return float(evaluate(self.loop.model, test)[1]), len(test.labels)

    def _title(self) -> str:
        return f"{self.config.architecture} / {self.config.task} / {self.config.split['name']}"

    def _write_predictions(self, logits: np.ndarray) -> None:
        rows = []
        for recording, scores in zip(self.parts["test"], logits, strict=True):
            predicted = self.classes[int(scores.argmax())]
            true = recording.label(self.config.task)
            rows.append(
                {
                    "relpath": recording.relpath,
                    "speaker": recording.speaker,
                    "true_label": true,
                    "predicted_label": predicted,
                    "correct": int(true == predicted),
                    **{f"logit_{c}": float(s) for c, s in zip(self.classes, scores, strict=True)},
                }
            )
        columns = [
            "relpath",
            "speaker",
            "true_label",
            "predicted_label",
            "correct",
            *(f"logit_{c}" for c in self.classes),
        ]
        rf.write_csv(self.out / rf.PREDICTIONS_NAME, columns, rows)

    def _summary(self, test_loss: float, test_acc: float, confusion: np.ndarray) -> dict[str, Any]:
        assert self.loop is not None
        state, model = self.loop.state, self.loop.model
        best = state.history[state.best_epoch - 1]
        return {
            "architecture": self.config.architecture,
            "task": self.config.task,
            "split": self.config.split["name"],
            "classes": self.classes,
            "test_accuracy": test_acc,
            "test_loss": test_loss,
            "test_n": int(confusion.sum()),
            "confusion_matrix": confusion.tolist(),
            "best_epoch": state.best_epoch,
            "best_val_accuracy": best["val_accuracy"],
            "epochs": state.epoch,
            "steps": state.step,
            "train_seconds": round(state.seconds, 3),
            "n_parameters": int(sum(p.numel() for p in model.parameters())),
            "weights_sha256": rf.sha256_of(self.out / rf.MODEL_NAME),
            "seed": self.config.seed,
            "data_fingerprint": self.data["fingerprint"],
        }


# A best validation accuracy below this multiple of chance is "still at chance".
CHANCE_MULTIPLE = 1.5
# Training minus validation accuracy (at the kept epoch) above this is overfitting.
LARGE_GAP = 0.25


def training_warnings(best: dict[str, Any], *, n_classes: int) -> list[str]:
    """Warnings about the kept epoch's metrics row: still at chance, or a large train-validation gap."""
    warnings = []
    chance = 1.0 / n_classes
    val, train = float(best["val_accuracy"]), float(best["train_accuracy"])
    if val < CHANCE_MULTIPLE * chance:
        warnings.append(
            f"validation accuracy stayed near chance ({val:.1%}, chance {chance:.1%}): the "
            "model has not learned the task; train longer, with a higher learning rate or more data"
        )
    if train - val > LARGE_GAP:
        warnings.append(
            f"training accuracy {train:.1%} vs validation {val:.1%} at the kept epoch: the "
            "model overfits the training speakers; use more augmentation, weight decay or speakers"
        )
    return warnings


def speaker_accuracy(
    speakers: list[str], true: np.ndarray, predicted: np.ndarray
) -> dict[str, dict[str, float]]:
    """Per test speaker: ``{"n": clips, "accuracy": share correct}``, sorted by speaker."""
    result: dict[str, dict[str, float]] = {}
    for speaker in sorted(set(speakers)):
        mask = np.array([s == speaker for s in speakers])
        correct = np.asarray(true)[mask] == np.asarray(predicted)[mask]
        result[speaker] = {"n": int(mask.sum()), "accuracy": float(correct.mean())}
    return result


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``(n_classes, n_classes)``: row = true class, column = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true, int), np.asarray(predicted, int)), 1)
    return matrix
