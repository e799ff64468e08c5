"""Perturbation curves: remove regions in an order, a fixed share at a time, and watch the class.

Every step of every order of a clip is one row of one forward batch (the perturbed
inputs are built with one broadcast comparison, not region by region), so a curve of
K steps costs K rows of a batched forward pass, not K separate passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explainer.errors import UserError
from explainer.faithfulness.regions import RegionMap
from explainer.training_loop import predict_logits

ORDERS = ("morf", "lerf", "random")
BATCH = 64  # perturbed inputs per forward pass


@dataclass(frozen=True)
class Steps:
    """Steps of ``step_share`` of the regions, from none removed up to ``max_share``."""

    step_share: float
    max_share: float

    def __post_init__(self) -> None:
        if not 0 < self.step_share <= 1:
            raise UserError(f"--step-share must be in (0, 1], got {self.step_share}")
        if not self.step_share <= self.max_share <= 1:
            raise UserError(
                f"--max-share must be between --step-share ({self.step_share}) and 1, got {self.max_share}"
            )

    @property
    def shares(self) -> np.ndarray:
        """``(K + 1,)`` share of the regions removed at each step, starting at 0."""
        n = int(np.floor(self.max_share / self.step_share + 1e-9))
        return np.round(np.arange(n + 1) * self.step_share, 10)

    def counts(self, n_regions: int) -> np.ndarray:
        """``(K + 1,)`` regions removed at each step."""
        return np.round(self.shares * n_regions).astype(np.int64)


def region_order(scores: np.ndarray, order: str, rng: np.random.Generator) -> np.ndarray:
    """Region indices in removal order for one clip (``scores`` ``(n_regions,)``).

    Ties keep region order (a stable sort), so the result does not depend on the platform.
    """
    if order == "morf":
        return np.argsort(-scores, kind="stable")
    if order == "lerf":
        return np.argsort(scores, kind="stable")
    if order == "random":
        return rng.permutation(scores.shape[0])
    raise ValueError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")


@dataclass(frozen=True)
class Curves:
    """``probability`` of the explained class and ``predicted`` class, ``(n_clips, n_orders, K + 1)``."""

    probability: np.ndarray
    predicted: np.ndarray


def perturbation_curves(
    model: torch.nn.Module,
    inputs: np.ndarray,
    targets: np.ndarray,
    orders: np.ndarray,
    replacements: np.ndarray,
    regions: RegionMap,
    counts: np.ndarray,
    *,
    batch: int = BATCH,
) -> Curves:
    """Curves of the explained class's probability as regions are removed.

    Parameters
    ----------
    inputs : numpy.ndarray
        ``(n_clips, *input_shape)`` network inputs (``(8000,)`` or ``(227, 227)`` each).
    targets : numpy.ndarray
        ``(n_clips,)`` index of the explained class.
    orders : numpy.ndarray
        ``(n_clips, n_orders, n_regions)`` region indices in removal order.
    replacements : numpy.ndarray
        Shaped like ``inputs``: what a removed element becomes.
    counts : numpy.ndarray
        ``(K + 1,)`` regions removed at each step; step 0 must remove none.
    """
    n_clips, n_orders, _ = orders.shape
    per_clip = 1 + n_orders * (len(counts) - 1)  # the original once, then each order's steps
    group = max(1, batch // per_clip)
    probability = np.empty((n_clips, n_orders, len(counts)))
    predicted = np.empty((n_clips, n_orders, len(counts)), dtype=np.int64)
    for start in range(0, n_clips, group):
        stop = min(n_clips, start + group)
        rows = np.concatenate(
            [
                _perturbed(inputs[i], orders[i], replacements[i], regions, counts)
                for i in range(start, stop)
            ]
        )
        logits = torch.from_numpy(predict_logits(model, rows, batch_size=len(rows)))
        probs = torch.softmax(logits.double(), dim=1).numpy().reshape(stop - start, per_clip, -1)
        for j, i in enumerate(range(start, stop)):
            p = _arrange(probs[j], n_orders, len(counts))
            probability[i] = p[..., targets[i]]
            predicted[i] = p.argmax(-1)
    return Curves(probability, predicted)


def _arrange(probs: np.ndarray, n_orders: int, n_steps: int) -> np.ndarray:
    """``(1 + n_orders * (n_steps - 1), n_classes)`` rows -> ``(n_orders, n_steps, n_classes)``."""
    original = np.repeat(probs[None, :1], n_orders, 0)
    steps = probs[1:].reshape(n_orders, n_steps - 1, -1)
    return np.concatenate([original, steps], axis=1)


def _perturbed(
    x: np.ndarray,
    orders: np.ndarray,
    replacement: np.ndarray,
    regions: RegionMap,
    counts: np.ndarray,
) -> np.ndarray:
    """The original, then each order's perturbed inputs: ``(1 + n_orders * K, *input_shape)``."""
    flat, repl = x.reshape(-1), replacement.reshape(-1)
    rank = np.empty_like(orders)
    rank[np.arange(orders.shape[0])[:, None], orders] = np.arange(orders.shape[1])
    element_rank = rank[:, regions.labels.reshape(-1)]  # (n_orders, n_elements)
    removed = element_rank[:, None, :] < counts[None, 1:, None]  # (n_orders, K, n_elements)
    rows = np.where(removed, repl, flat).reshape(-1, *x.shape)
    return np.concatenate([x[None], rows]).astype(np.float32, copy=False)
