"""The perturbation experiment over a set of clips: relevance per method, curves, tidy rows, summary."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from explainer.faithfulness.curves import Curves, perturbation_curves, region_order
from explainer.faithfulness.replacement import replacement_for
from explainer.faithfulness.settings import Settings, clip_rng
from explainer.faithfulness.summary import aopc, mean_with_ci, method_summary

EXPLAIN_BATCH = 16
CSV_COLUMNS = (
    "method",
    "order",
    "clip",
    "label",
    "target",
    "step",
    "share",
    "regions_removed",
    "probability",
    "correct",
)


@dataclass(frozen=True)
class Clips:
    """The clips an experiment scores.

    Attributes
    ----------
    keys : list of str
        Recording path (or stimulus id) per clip; seeds its random order.
    inputs : numpy.ndarray
        ``(n, 8000)`` or ``(n, 227, 227)`` network inputs.
    labels : numpy.ndarray
        ``(n,)`` true class index.
    targets : numpy.ndarray
        ``(n,)`` explained class index.
    methods : dict
        Method name -> indices of the clips it explains (every clip, or a bundle's stimuli of it).
    params : dict
        Method name -> parameter overrides.
    offsets : list of int
        Window position of each clip's first sample (for cue masks).
    """

    keys: list[str]
    inputs: np.ndarray
    labels: np.ndarray
    targets: np.ndarray
    methods: dict[str, list[int]]
    params: dict[str, dict[str, Any]]
    offsets: list[int]


def explain_all(
    model: torch.nn.Module,
    inputs: np.ndarray,
    targets: np.ndarray,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    progress: bool = True,
) -> np.ndarray:
    """Relevance ``(n, *input_shape)`` of ``method`` for the ``targets`` classes, in batches."""
    from explainer.relevance import explain

    out = []
    for start in tqdm(
        range(0, len(inputs), EXPLAIN_BATCH),
        desc=f"relevance {method}",
        file=sys.stderr,
        disable=not progress or None,
    ):
        batch = torch.from_numpy(inputs[start : start + EXPLAIN_BATCH]).unsqueeze(1)
        target = torch.from_numpy(targets[start : start + EXPLAIN_BATCH])
        result = explain(model, batch, method, targets=target, params=params)
        out.append(result.relevance.squeeze(1).double().numpy())
    return np.concatenate(out)


def run_experiment(
    model: torch.nn.Module,
    representation: str,
    clips: Clips,
    settings: Settings,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """MoRF and LeRF curves per method and the seeded random baseline.

    Returns
    -------
    dict
        ``rows`` (tidy curve rows, :data:`CSV_COLUMNS`), ``summary`` (per method and for
        ``random``: mean curves and AOPCs with bootstrap intervals) and ``relevance``
        (method -> ``(n_method_clips, *input_shape)``, for the further checks).
    """
    regions = settings.regions(representation)
    counts = settings.steps.counts(regions.n_regions)
    replacements = np.stack(
        [
            replacement_for(x, representation, settings.replacement, clip_rng(settings.seed, k, 1))
            for x, k in zip(clips.inputs, clips.keys, strict=True)
        ]
    )
    every = np.arange(len(clips.keys))
    random_orders = np.stack(
        [
            region_order(np.zeros(regions.n_regions), "random", clip_rng(settings.seed, k, 0))
            for k in clips.keys
        ]
    )
    random = perturbation_curves(
        model, clips.inputs, clips.targets, random_orders[:, None], replacements, regions, counts
    )
    rows = _rows("random", ["random"], random, clips, every, settings, counts)
    random_aopc = aopc(random.probability[:, 0])
    summary: dict[str, Any] = {
        "random": _curve_summary(random, clips, every, 0)
        | {"aopc": mean_with_ci(random_aopc, seed=settings.seed)}
    }
    relevance: dict[str, np.ndarray] = {}
    for method, index in tqdm(
        clips.methods.items(), desc="methods", file=sys.stderr, disable=not progress or None
    ):
        idx = np.asarray(index)
        rel = explain_all(
            model,
            clips.inputs[idx],
            clips.targets[idx],
            method,
            clips.params.get(method),
            progress=progress,
        )
        relevance[method] = rel
        scores = regions.scores(rel)
        orders = np.stack(
            [
                [region_order(s, o, np.random.default_rng(0)) for o in ("morf", "lerf")]
                for s in scores
            ]
        )
        curves = perturbation_curves(
            model, clips.inputs[idx], clips.targets[idx], orders, replacements[idx], regions, counts
        )
        rows += _rows(method, ["morf", "lerf"], curves, clips, idx, settings, counts)
        morf, lerf = aopc(curves.probability[:, 0]), aopc(curves.probability[:, 1])
        summary[method] = {
            "n_clips": int(idx.size),
            "morf": _curve_summary(curves, clips, idx, 0),
            "lerf": _curve_summary(curves, clips, idx, 1),
            **method_summary(morf, lerf, random_aopc[idx], seed=settings.seed),
        }
    return {"rows": rows, "summary": summary, "relevance": relevance}


def _curve_summary(curves: Curves, clips: Clips, index: np.ndarray, order: int) -> dict[str, Any]:
    """Mean probability of the explained class and accuracy at each step."""
    correct = curves.predicted[:, order] == clips.labels[index][:, None]
    return {
        "probability": [round(float(v), 6) for v in curves.probability[:, order].mean(0)],
        "accuracy": [round(float(v), 6) for v in correct.mean(0)],
    }


def _rows(
    method: str,
    orders: Sequence[str],
    curves: Curves,
    clips: Clips,
    index: np.ndarray,
    settings: Settings,
    counts: np.ndarray,
) -> list[dict[str, Any]]:
    shares = settings.steps.shares
    rows = []
    for j, i in enumerate(index):
        for o, order in enumerate(orders):
            for k, (share, count) in enumerate(zip(shares, counts, strict=True)):
                rows.append(
                    {
                        "method": method,
                        "order": order,
                        "clip": clips.keys[i],
                        "label": int(clips.labels[i]),
                        "target": int(clips.targets[i]),
                        "step": k,
                        "share": float(share),
                        "regions_removed": int(count),
                        "probability": round(float(curves.probability[j, o, k]), 8),
                        "correct": int(curves.predicted[j, o, k] == clips.labels[i]),
                    }
                )
    return rows
