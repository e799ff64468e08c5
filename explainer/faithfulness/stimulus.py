"""Each bundle stimulus's deletion AOPC and its random-order baseline, and their provenance.

:func:`deletion_scores` is called once per stimulus while the bundle renders (it needs
the relevance, which the bundle does not store). Settings are fixed here, in one place,
and written to the manifest's top-level ``faithfulness.deletion`` by :func:`deletion_record`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from explainer.faithfulness.curves import Steps, perturbation_curves, region_order
from explainer.faithfulness.replacement import replacement_for
from explainer.faithfulness.settings import Settings, clip_rng
from explainer.faithfulness.summary import aopc

# Five steps of a tenth of the regions: half the input removed at the end, 11 forward rows per stimulus.
BUNDLE_STEPS = Steps(step_share=0.1, max_share=0.5)


def bundle_settings(seed: int) -> Settings:
    """The deletion settings of a bundle planned with ``seed``."""
    return Settings(BUNDLE_STEPS, replacement="zero", seed=seed)


def deletion_scores(
    model: torch.nn.Module,
    representation: str,
    model_input: np.ndarray,
    relevance: np.ndarray,
    target: int,
    key: str,
    settings: Settings,
) -> dict[str, float]:
    """``deletion_aopc`` (MoRF) and ``random_aopc`` (seeded random order) of one stimulus.

    Parameters
    ----------
    model_input, relevance : numpy.ndarray
        ``(8000,)`` or ``(227, 227)``, the network input and its relevance.
    target : int
        Index of the explained class.
    key : str
        The stimulus's recording; seeds its random order and noise.
    """
    regions = settings.regions(representation)
    scores = regions.scores(np.asarray(relevance)[None])[0]
    orders = np.stack(
        [
            region_order(scores, "morf", clip_rng(settings.seed, key, 0)),
            region_order(scores, "random", clip_rng(settings.seed, key, 0)),
        ]
    )
    x = np.asarray(model_input, dtype=np.float32)
    fill = replacement_for(x, representation, settings.replacement, clip_rng(settings.seed, key, 1))
    curves = perturbation_curves(
        model,
        x[None],
        np.array([target]),
        orders[None],
        fill[None],
        regions,
        settings.steps.counts(regions.n_regions),
    )
    deletion, random = aopc(curves.probability[0])
    return {"deletion_aopc": round(float(deletion), 6), "random_aopc": round(float(random), 6)}


def stimulus_deletion(
    spec: dict[str, Any], index: int, model_input: np.ndarray, relevance: np.ndarray
) -> dict[str, float]:
    """:func:`deletion_scores` of the planned stimulus ``spec["stimuli"][index]`` (its own model and class)."""
    from explainer.rendering import chunk_run, target_index

    stim = spec["stimuli"][index]
    return deletion_scores(
        chunk_run(spec, [index]).model,
        spec["representation"],
        model_input,
        relevance,
        target_index(spec, stim),
        stim["recording"],
        bundle_settings(int(spec["selection"]["seed"])),
    )


def deletion_record(spec: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``faithfulness.deletion``: how the per-stimulus AOPCs were computed."""
    record = bundle_settings(int(spec["selection"]["seed"])).record(spec["representation"])
    return {
        **record,
        "order": "most relevant first (MoRF), regions ranked by summed signed relevance",
        "baseline": "random_aopc: the same steps in a seeded random order",
        "aopc": "mean over steps k = 0..K of p_0 - p_k, p = the explained class's softmax probability",
    }
