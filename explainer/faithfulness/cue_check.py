"""Planted-cue checks: the cue's regions come first in MoRF order, and deleting the cue flips
the decisions that followed it (on the cue-conflict clips of a probe corpus)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from explainer.cue_reliance import cue_mask, window_cue
from explainer.faithfulness.curves import region_order
from explainer.faithfulness.experiment import Clips
from explainer.faithfulness.regions import RegionMap
from explainer.faithfulness.replacement import replacement_for
from explainer.faithfulness.settings import Settings, clip_rng
from explainer.training_loop import predict_logits


def cue_check(
    model: torch.nn.Module,
    representation: str,
    clips: Clips,
    cue_clips: dict[str, Any],
    classes: list[str],
    relevance: dict[str, np.ndarray],
    settings: Settings,
) -> dict[str, Any] | None:
    """Per method, on cue-conflict clips: where the cue falls in MoRF order; and how many
    cue-following decisions deleting the cue flips (method-independent).

    ``cue_clips`` is ``cue.json``'s ``clips`` (relpath -> record). None without conflict clips.
    """
    regions = settings.regions(representation)
    conflict = [
        i for i, k in enumerate(clips.keys) if cue_clips.get(k, {}).get("role") == "conflict"
    ]
    if not conflict:
        return None
    masks = [
        cue_mask(window_cue(cue_clips[clips.keys[i]], clips.offsets[i]), representation)
        for i in conflict
    ]
    in_cue = [_cue_regions(regions, m) for m in masks]
    out: dict[str, Any] = {
        "n_conflict": len(conflict),
        "deletion": _deletion_flips(
            model, representation, clips, conflict, masks, cue_clips, classes, settings
        ),
    }
    for method, rel in relevance.items():
        position = {c: j for j, c in enumerate(clips.methods[method])}
        firsts, precisions = [], []
        for i, cue_regions in zip(conflict, in_cue, strict=True):
            if i not in position or not cue_regions.size:
                continue
            order = region_order(
                regions.scores(rel[position[i]][None])[0], "morf", np.random.default_rng(0)
            )
            firsts.append(bool(np.isin(order[0], cue_regions)))
            precisions.append(float(np.isin(order[: cue_regions.size], cue_regions).mean()))
        out[method] = {
            "first_region_in_cue": _share(firsts),
            "cue_precision_at_cue_size": _share(precisions),
            "cue_region_share": round(
                float(np.mean([r.size for r in in_cue]) / regions.n_regions), 6
            ),
        }
    return out


def _cue_regions(regions: RegionMap, mask: np.ndarray) -> np.ndarray:
    """Regions at least half inside the cue."""
    inside = np.bincount(
        regions.labels.reshape(-1), weights=mask.reshape(-1), minlength=regions.n_regions
    )
    size = np.bincount(regions.labels.reshape(-1), minlength=regions.n_regions)
    return np.flatnonzero(inside >= size / 2)


def _deletion_flips(
    model: torch.nn.Module,
    representation: str,
    clips: Clips,
    conflict: list[int],
    masks: list[np.ndarray],
    cue_clips: dict[str, Any],
    classes: list[str],
    settings: Settings,
) -> dict[str, Any]:
    """Replace each conflict clip's cue (its whole mask); share of cue-following decisions that change."""
    cue_class = np.array([classes.index(cue_clips[clips.keys[i]]["class"]) for i in conflict])
    following = clips.targets[conflict] == cue_class
    deleted = np.stack(
        [
            np.where(
                m,
                replacement_for(
                    clips.inputs[i],
                    representation,
                    settings.replacement,
                    clip_rng(settings.seed, clips.keys[i], 1),
                ),
                clips.inputs[i],
            )
            for i, m in zip(conflict, masks, strict=True)
        ]
    )
    after = predict_logits(model, deleted).argmax(1)
    flipped = (after != cue_class)[following]
    return {
        "n_cue_following": int(following.sum()),
        "flipped_share": _share(flipped.tolist()),
        "now_spoken_share": _share((after == clips.labels[conflict])[following].tolist()),
    }


def _share(values: list[Any]) -> float | None:
    return round(float(np.mean(values)), 6) if values else None
