"""One training run from prepared data to a finished run folder.

:class:`RunTrainer` connects the data (cached inputs per split part), the model, the loop
and the run folder's files: best weights after each improving epoch, a checkpoint after
each epoch (and every ``checkpoint_every`` steps), then the test evaluation, figures and
the summary. :func:`write_given_run` writes the same evaluation for an own model whose
weights were given (``train --no-train``).
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from explainer import run_files as rf
from explainer.cache import preprocess
from explainer.calibration import calibration_record
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
        return {
            part: part_arrays(self.config, part, table, self.options)
            for part, table in self.parts.items()
        }

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
            label_smoothing=c.label_smoothing,
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
        return self.finish(arrays["validate"], arrays["test"])

    def _on_epoch(self, row: dict[str, Any], best: bool) -> None:
        assert self.loop is not None
        if best:
            rf.save_torch(self.out / rf.MODEL_NAME, self.loop.model.state_dict())
        save_milestone(self.out, self.loop.model.state_dict(), row)
        rf.write_csv(self.out / rf.METRICS_NAME, rf.METRIC_COLUMNS, self.loop.state.history)

    def _on_checkpoint(self) -> None:
        assert self.loop is not None
        rf.save_torch(self.out / rf.CHECKPOINT_NAME, checkpoint_payload(self.loop))

    def finish(self, validate: ArraySet, test: ArraySet) -> dict[str, Any]:
        """Evaluate the best weights on the test speakers, with a temperature fitted on the
        validation speakers; write predictions, figures, summary."""
        from explainer.training_figures import plot_learning_curves

        assert self.loop is not None
        model, state = self.loop.model, self.loop.state
        model.load_state_dict(
            torch.load(self.out / rf.MODEL_NAME, map_location="cpu", weights_only=True)
        )
        summary = report_test(
            model, test, self.parts["test"], self.config, self.out, self.data, validate=validate
        )
        plot_learning_curves(
            state.history,
            self.out / rf.FIGURES_DIR / "learning_curves.png",
            title=run_title(self.config),
        )
        finish_milestones(self.out, lambda weights: self._test_accuracy(weights, test))
        model.load_state_dict(
            torch.load(self.out / rf.MODEL_NAME, map_location="cpu", weights_only=True)
        )
        best = state.history[state.best_epoch - 1]
        summary.update(
            best_epoch=state.best_epoch,
            best_val_accuracy=best["val_accuracy"],
            epochs=state.epoch,
            steps=state.step,
            train_seconds=round(state.seconds, 3),
            stopped_early=self.loop.stalled(),
            warnings=training_warnings(best, n_classes=len(self.classes)),
        )
        for warning in summary["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        rf.write_json(self.out / rf.SUMMARY_NAME, summary)
        (self.out / rf.CHECKPOINT_NAME).unlink(missing_ok=True)
        print(finished_line(summary, self.out), file=sys.stderr)
        return summary

    def _test_accuracy(self, weights: Path, test: ArraySet) -> tuple[float, int]:
        assert self.loop is not None
        self.loop.model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        return float(evaluate(self.loop.model, test)[1]), len(test.labels)


def part_arrays(
    config: TrainConfig, part: str, table: RecordingTable, options: RunOptions
) -> ArraySet:
    """The inputs and labels of one split part, as the run reads them."""
    # Validation and test clips are placed once, unperturbed: placement 0 of the seed.
    train = part == "train"
    pre = preprocess(
        list(table),
        config.representation,
        seed=config.seed,
        long_clips=config.long_clips,
        placements=config.placements if train else 1,
        speed_perturbation=config.speed_perturbation if train else 0.0,
        augment=config.augment if train else "none",
        cache_dir=options.cache_dir,
        workers=options.workers,
        progress=options.progress,
    )
    classes = config.classes
    labels = np.array([classes.index(label) for label in table.labels(config.task)], np.int64)
    return ArraySet(pre.inputs, labels)


def report_test(
    model: nn.Module,
    test: ArraySet,
    recordings: RecordingTable,
    config: TrainConfig,
    out: Path,
    data: dict[str, Any],
    *,
    validate: ArraySet,
) -> dict[str, Any]:
    """Evaluate ``model`` on the test speakers (``recordings``, inputs ``test``) into ``out``.

    Writes ``predictions.csv`` and the confusion-matrix and per-speaker figures; returns
    the summary's evaluation part, with a temperature fitted on ``validate``
    (:mod:`explainer.calibration`). The weights in ``out/model.pt`` must be
    ``model``'s.
    """
    from explainer.training_figures import plot_confusion_matrix, plot_speaker_accuracy

    classes = config.classes
    test_loss, test_acc, logits = evaluate(model, test)
    predicted = logits.argmax(1)
    confusion = confusion_matrix(test.labels, predicted, len(classes))
    _write_predictions(out, recordings, logits, config)
    figures = out / rf.FIGURES_DIR
    figures.mkdir(exist_ok=True)
    title = run_title(config)
    plot_confusion_matrix(
        confusion, classes, figures / "confusion_matrix.png", title=f"{title}: test"
    )
    per_speaker = speaker_accuracy([r.speaker for r in recordings], test.labels, predicted)
    plot_speaker_accuracy(
        per_speaker,
        1.0 / len(classes),
        figures / "speaker_accuracy.png",
        title=f"{title}: test speakers",
    )
    calibration = calibration_record(
        (evaluate(model, validate)[2], validate.labels), (logits, test.labels)
    )
    return {
        "architecture": config.architecture,
        "task": config.task,
        "split": config.split["name"],
        "classes": classes,
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "test_n": int(confusion.sum()),
        "confusion_matrix": confusion.tolist(),
        "per_speaker_accuracy": per_speaker,
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        "weights_sha256": rf.sha256_of(out / rf.MODEL_NAME),
        "seed": config.seed,
        "data_fingerprint": data["fingerprint"],
        "provenance": config.provenance,
        "calibration": calibration,
    }


def finished_line(summary: dict[str, Any], out: Path) -> str:
    """The line a finished run prints: its test accuracy and folder."""
    return (
        f"test accuracy {summary['test_accuracy']:.4f} on {summary['test_n']} clips "
        f"of held-out speakers -> {out}"
    )


def run_title(config: TrainConfig) -> str:
    return f"{config.architecture} / {config.task} / {config.split['name']}"


def _write_predictions(
    out: Path, recordings: RecordingTable, logits: np.ndarray, config: TrainConfig
) -> None:
    classes = config.classes
    rows = []
    for recording, scores in zip(recordings, logits, strict=True):
        predicted = classes[int(scores.argmax())]
        true = recording.label(config.task)
        rows.append(
            {
                "relpath": recording.relpath,
                "speaker": recording.speaker,
                "true_label": true,
                "predicted_label": predicted,
                "correct": int(true == predicted),
                **{f"logit_{c}": float(s) for c, s in zip(classes, scores, strict=True)},
            }
        )
    columns = [
        "relpath",
        "speaker",
        "true_label",
        "predicted_label",
        "correct",
        *(f"logit_{c}" for c in classes),
    ]
    rf.write_csv(out / rf.PREDICTIONS_NAME, columns, rows)


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


def write_given_run(
    config: TrainConfig,
    parts: dict[str, RecordingTable],
    folder: Path,
    options: RunOptions,
    data: dict[str, Any],
) -> dict[str, Any]:
    """A run folder for an own model's given weights, evaluated on the test part, not trained.

    The files a trained run has for the commands that read runs (``config.json``,
    ``model.pt``, ``predictions.csv``, the confusion and per-speaker figures,
    ``summary.json``, its temperature fitted on the validation part as for a trained
    run); no metrics, learning curves or milestones, as there were no epochs.
    """
    folder.mkdir(parents=True)
    rf.write_json(folder / rf.CONFIG_NAME, {**asdict(config), "data": data})
    model = build_network(asdict(config))  # the description's weights, loaded and checked
    rf.save_torch(folder / rf.MODEL_NAME, model.state_dict())
    test, validate = (
        part_arrays(config, part, parts[part], options) for part in ("test", "validate")
    )
    summary = report_test(model, test, parts["test"], config, folder, data, validate=validate)
    summary.update(epochs=0, steps=0, warnings=[])
    rf.write_json(folder / rf.SUMMARY_NAME, summary)
    return summary
