"""Model-parameter randomisation (Adebayo et al., NeurIPS 2018), cascading from the top layer.

The layers with parameters are re-initialised one more at a time, from the output
layer down, and after each the relevance of the same clips and classes is compared
with the trained model's by Spearman rank correlation (signed and of |relevance|),
averaged over clips. An explanation that depends on what the model learned changes
as the weights go; a method whose signed correlation is still at least
:data:`FLAG_SPEARMAN`, or whose |relevance| correlation is at least
:data:`FLAG_SPEARMAN_ABS`, with every layer randomised is flagged.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from scipy import stats

from explainer.faithfulness.experiment import explain_all

FLAG_SPEARMAN = 0.5
# |relevance| keeps a rank correlation around 0.5 for LRP on these models even fully
# randomised (the silent padding ranks last in both maps); an explanation whose magnitude
# map stays this close is a copy of the input (gradient x input: 0.94-0.96 measured).
FLAG_SPEARMAN_ABS = 0.8


def parameter_layers(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """Layers with their own parameters (convolutions, linear layers), input side first."""
    return [
        (name, m)
        for name, m in model.named_modules()
        if hasattr(m, "reset_parameters") and any(True for _ in m.parameters(recurse=False))
    ]


def cascading_randomisation(
    model: torch.nn.Module,
    inputs: np.ndarray,
    targets: np.ndarray,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Spearman correlations per randomised layer, and the flag.

    Parameters
    ----------
    inputs : numpy.ndarray
        ``(n, *input_shape)`` network inputs; ``targets`` ``(n,)`` the classes explained
        (kept fixed: the trained model's, so only the weights change).

    Returns
    -------
    dict
        ``randomisation``: ``[{"layer", "spearman", "spearman_abs"}, ...]`` from the top
        layer down (each entry: that layer and all above it randomised); ``flagged`` and
        ``reason``.
    """
    trained = explain_all(model, inputs, targets, method, params, progress=False)
    randomised = copy.deepcopy(model)
    entries = []
    for step, (name, layer) in enumerate(reversed(parameter_layers(randomised))):
        with torch.random.fork_rng():
            torch.manual_seed(seed + step)
            layer.reset_parameters()
        rel = explain_all(randomised, inputs, targets, method, params, progress=False)
        entries.append(
            {
                "layer": name,
                "spearman": _mean_spearman(trained, rel, absolute=False),
                "spearman_abs": _mean_spearman(trained, rel, absolute=True),
            }
        )
    flagged, reason = _flag(entries[-1])
    return {"randomisation": entries, "flagged": flagged, "reason": reason}


def _flag(last: dict[str, Any]) -> tuple[bool, str]:
    """Flagged when, with every layer randomised, signed or |relevance| still ranks as before."""
    limits = {"spearman": FLAG_SPEARMAN, "spearman_abs": FLAG_SPEARMAN_ABS}
    kept = [
        f"{key} {last[key]:.2f} >= {limit}"
        for key, limit in limits.items()
        if last[key] is not None and last[key] >= limit
    ]
    if kept:
        return True, (
            "with every layer randomised the relevance still correlates with the trained "
            f"model's ({', '.join(kept)}): it barely depends on the learned weights"
        )
    return False, (
        f"with every layer randomised the correlation falls to {last['spearman']} (signed, "
        f"limit {FLAG_SPEARMAN}) and {last['spearman_abs']} (|relevance|, limit {FLAG_SPEARMAN_ABS})"
    )


def _mean_spearman(a: np.ndarray, b: np.ndarray, *, absolute: bool) -> float | None:
    """Mean over clips of the rank correlation of two relevance maps (None if all undefined)."""
    values = []
    for x, y in zip(a.reshape(len(a), -1), b.reshape(len(b), -1), strict=True):
        if absolute:
            x, y = np.abs(x), np.abs(y)
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            continue  # a constant map has no ranking
        values.append(stats.spearmanr(x, y).statistic)
    return round(float(np.mean(values)), 6) if values else None


def bundle_sanity(spec: dict[str, Any], n_stimuli: int = 8) -> dict[str, Any]:
    """The randomisation check per method of a bundle plan, on its first ``n_stimuli`` stimuli
    of the bundle's own model (``bundle --sanity``; the manifest's ``faithfulness.sanity``)."""
    from pathlib import Path

    from explainer.rendering import load_run_cached, target_index

    run = load_run_cached(spec["run_dir"], spec["model"]["weights_sha256"])
    out = {}
    for method, params in spec["methods"].items():
        stimuli = [
            s for s in spec["stimuli"] if s["method"] == method and s.get("model_id") is None
        ][:n_stimuli]
        root = Path(spec["data_root"])
        inputs = np.stack([run.prepare(root / s["recording"], s["recording"])[1] for s in stimuli])
        targets = np.array([target_index(spec, s) for s in stimuli])
        result = cascading_randomisation(
            run.model, inputs, targets, method, params, seed=int(spec["selection"]["seed"])
        )
        out[method] = {**result, "n_stimuli": len(stimuli)}
    return out
