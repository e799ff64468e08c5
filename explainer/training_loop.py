"""The optimisation loop: seeded batches, validation each epoch, keep-best, checkpoints.

Everything random is derived from the run's seed: the initial weights (torch's generator
seeded before the model is built), the batch order of each epoch (a NumPy generator
seeded by seed and epoch) and dropout (torch's generator, whose state goes into every
checkpoint). A resumed run therefore continues exactly where the interrupted one stopped.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

EVAL_BATCH = 256


@dataclass
class ArraySet:
    """Preprocessed inputs ``(n, placements, *shape)`` and integer labels ``(n,)``.

    A training sample is one (recording, placement) pair, numbered ``recording *
    placements + placement``.
    """

    inputs: np.ndarray
    labels: np.ndarray

    @property
    def size(self) -> int:
        return self.inputs.shape[0] * self.inputs.shape[1]

    def batch(self, flat: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs ``(b, 1, *shape)`` float32 and labels ``(b,)`` for flat sample numbers."""
        flat = np.sort(flat)  # ascending rows read a memory map sequentially
        rows, places = np.divmod(flat, self.inputs.shape[1])
        x = torch.from_numpy(np.ascontiguousarray(self.inputs[rows, places], dtype=np.float32))
        return x.unsqueeze(1), torch.from_numpy(self.labels[rows].astype(np.int64))

    def first_placement(self) -> np.ndarray:
        """Inputs ``(n, *shape)`` at placement 0, the fixed placement used for evaluation."""
        return self.inputs[:, 0]


@dataclass
class Hyper:
    """The optimisation settings the loop needs (a subset of the run configuration)."""

    seed: int
    batch_size: int
    epochs: int | None
    max_steps: int | None
    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    grad_clip: float | None
    lr_schedule: str = "constant"
    patience: int | None = None
    label_smoothing: float = 0.0
    checkpoint_every: int = 1000


@dataclass
class LoopState:
    """Where training stands; saved in every checkpoint."""

    epoch: int = 0
    position: int = 0
    step: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    best_key: list[float] | None = None
    best_epoch: int = -1
    lr_scale: float = 1.0
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Timing:
    """Seconds spent fetching batches versus the whole training step (for benchmarks)."""

    data: float = 0.0
    total: float = 0.0
    samples: int = 0


def make_optimizer(model: nn.Module, hyper: Hyper) -> torch.optim.Optimizer:
    """SGD with momentum (the paper's solver), Adam (the demo and speech presets) or AdamW.

    ``weight_decay`` is an L2 term in the gradient for SGD and Adam (so Adam scales it by
    the gradient's running RMS like the data gradient) and decoupled for AdamW (each step
    shrinks every weight by ``lr * weight_decay``, whatever its gradient).
    """
    if hyper.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=hyper.lr,
            momentum=hyper.momentum,
            weight_decay=hyper.weight_decay,
        )
    if hyper.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=hyper.lr, weight_decay=hyper.weight_decay)
    if hyper.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=hyper.lr, weight_decay=hyper.weight_decay)
    raise ValueError(f"unknown optimizer {hyper.optimizer!r}; choose sgd, adam or adamw")


def total_steps(hyper: Hyper, n_samples: int) -> int:
    """Steps to run: ``epochs`` full passes, capped by ``max_steps`` (one of them must be set)."""
    per_epoch = math.ceil(n_samples / hyper.batch_size)
    caps = [c for c in (hyper.epochs and hyper.epochs * per_epoch, hyper.max_steps) if c]
    if not caps:
        raise ValueError("set epochs or max_steps")
    return min(caps)


# The plateau schedule halves the rate after this many epochs without a better validation.
PLATEAU_EPOCHS = 2


def learning_rate(hyper: Hyper, step: int, total: int, scale: float = 1.0) -> float:
    """The rate for step ``step`` (0-based) of ``total``: constant (the paper), cosine decay
    to 0, or "plateau" (``hyper.lr`` times ``scale``, which the loop halves on a plateau)."""
    if hyper.lr_schedule == "constant":
        return hyper.lr
    if hyper.lr_schedule == "plateau":
        return hyper.lr * scale
    if hyper.lr_schedule == "cosine":
        return hyper.lr * 0.5 * (1.0 + math.cos(math.pi * step / total))
    raise ValueError(
        f"unknown learning-rate schedule {hyper.lr_schedule!r}; choose constant, cosine or plateau"
    )


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled sample order of one epoch, a function of seed and epoch only."""
    return np.random.default_rng([seed, 7919, epoch]).permutation(n)


def predict_logits(
    model: nn.Module, inputs: np.ndarray, batch_size: int = EVAL_BATCH
) -> np.ndarray:
    """Logits ``(n, n_classes)`` for inputs ``(n, *shape)``, in eval mode without gradients."""
    was_training = model.training
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            # A copy: cached inputs are a read-only memory map, which torch will not wrap.
            x = torch.from_numpy(np.array(inputs[start : start + batch_size], dtype=np.float32))
            out.append(model(x.unsqueeze(1)).numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def evaluate(model: nn.Module, data: ArraySet) -> tuple[float, float, np.ndarray]:
    """Mean cross-entropy, accuracy and logits ``(n, n_classes)`` at placement 0."""
    logits = predict_logits(model, data.first_placement())
    labels = torch.from_numpy(data.labels.astype(np.int64))
    loss = float(F.cross_entropy(torch.from_numpy(logits), labels))
    accuracy = float(np.mean(logits.argmax(1) == data.labels))
    return loss, accuracy, logits


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    grad_clip: float | None,
    label_smoothing: float = 0.0,
) -> tuple[float, int]:
    """One SGD step; returns the batch's summed loss and number of correct predictions.

    With ``label_smoothing`` the targets keep ``1 - label_smoothing`` on the true class and
    spread the rest evenly (``torch.nn.functional.cross_entropy``'s own option).
    """
    model.train()
    optimizer.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
    loss.backward()
    if grad_clip:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return float(loss.detach()) * len(y), int((logits.argmax(1) == y).sum())


@contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """Turn the first Ctrl-C into a request to stop after the current step (a second one aborts)."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested.is_set
        return

    def handler(signum: int, frame: Any) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requested.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class Loop:
    """One training run's loop. ``on_epoch`` is called after each validation with the new
    metrics row and whether it is the best so far; ``on_checkpoint`` must persist the state."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    hyper: Hyper
    train: ArraySet
    val: ArraySet
    state: LoopState
    on_epoch: Callable[[dict[str, Any], bool], None]
    on_checkpoint: Callable[[], None]
    progress: bool = True
    timing: Timing = field(default_factory=Timing)
    total: int = 0

    def run(self, stop_after: int | None = None) -> bool:
        """Train until done (True) or until ``stop_after`` steps or Ctrl-C (False, checkpointed)."""
        from tqdm import tqdm

        total = self.total = total_steps(self.hyper, self.train.size)
        done_now = 0
        with (
            stop_on_interrupt() as stop_requested,
            tqdm(
                total=total,
                initial=self.state.step,
                desc="training",
                unit="step",
                disable=not self.progress,
            ) as bar,
        ):
            # An epoch cut short (by max_steps) still needs its validation.
            while self.state.step < total or self.state.position > 0:
                for batch in self._remaining_batches():
                    if self.state.step >= total:
                        break
                    if stop_requested() or (stop_after is not None and done_now >= stop_after):
                        self.on_checkpoint()
                        return False
                    self._step(batch)
                    done_now += 1
                    bar.update(1)
                    bar.set_postfix(self._postfix(), refresh=False)
                    if self.state.step % self.hyper.checkpoint_every == 0:
                        self.on_checkpoint()
                self._end_epoch()
                if self.stalled():
                    break
        return True

    def stalled(self) -> bool:
        """Early stopping: ``patience`` epochs have passed without a better validation."""
        s = self.state
        return self.hyper.patience is not None and s.epoch - s.best_epoch >= self.hyper.patience

    def _remaining_batches(self) -> list[np.ndarray]:
        order = epoch_order(self.hyper.seed, self.state.epoch, self.train.size)
        bs = self.hyper.batch_size
        batches = [order[i : i + bs] for i in range(0, len(order), bs)]
        return batches[self.state.position :]

    def _step(self, batch: np.ndarray) -> None:
        start = time.perf_counter()
        x, y = self.train.batch(batch)
        fetched = time.perf_counter()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(
                self.hyper, self.state.step, self.total, self.state.lr_scale
            )
        loss_sum, correct = train_step(
            self.model, self.optimizer, x, y, self.hyper.grad_clip, self.hyper.label_smoothing
        )
        end = time.perf_counter()
        self.timing.data += fetched - start
        self.timing.total += end - start
        self.timing.samples += len(y)
        s = self.state
        s.loss_sum, s.correct, s.seen = s.loss_sum + loss_sum, s.correct + correct, s.seen + len(y)
        s.position, s.step, s.seconds = s.position + 1, s.step + 1, s.seconds + end - start

    def _postfix(self) -> dict[str, str]:
        s = self.state
        post = {
            "epoch": str(s.epoch + 1),
            "loss": f"{s.loss_sum / max(1, s.seen):.3f}",
            "acc": f"{s.correct / max(1, s.seen):.3f}",
        }
        if s.history:
            post["val_acc"] = f"{s.history[-1]['val_accuracy']:.3f}"
        return post

    def _end_epoch(self) -> None:
        s = self.state
        start = time.perf_counter()
        val_loss, val_acc, _ = evaluate(self.model, self.val)
        s.seconds += time.perf_counter() - start
        key = [val_acc, -val_loss]
        best = s.best_key is None or key > s.best_key
        if best:
            s.best_key, s.best_epoch = key, s.epoch + 1
        row = {
            "epoch": s.epoch + 1,
            "step": s.step,
            "train_loss": s.loss_sum / max(1, s.seen),
            "train_accuracy": s.correct / max(1, s.seen),
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "learning_rate": self.optimizer.param_groups[0]["lr"],
            "seconds": round(s.seconds, 3),
            "best": int(best),
        }
        s.history.append(row)
        since_best = s.epoch + 1 - s.best_epoch
        if not best and since_best % PLATEAU_EPOCHS == 0:
            s.lr_scale *= 0.5  # used only by the plateau schedule
        s.epoch, s.position, s.loss_sum, s.correct, s.seen = s.epoch + 1, 0, 0.0, 0, 0
        self.on_epoch(row, best)
        self.on_checkpoint()


def checkpoint_payload(loop: Loop) -> dict[str, Any]:
    """Everything needed to continue ``loop`` exactly."""
    return {
        "model": loop.model.state_dict(),
        "optimizer": loop.optimizer.state_dict(),
        "state": asdict(loop.state),
        "torch_rng": torch.get_rng_state(),
    }


def restore_checkpoint(loop: Loop, payload: dict[str, Any]) -> None:
    loop.model.load_state_dict(payload["model"])
    loop.optimizer.load_state_dict(payload["optimizer"])
    loop.state = LoopState(**payload["state"])
    torch.set_rng_state(payload["torch_rng"])
