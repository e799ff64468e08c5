"""Frequency-band tests for spectrogram models: attenuate one band at a time, watch the accuracy.

The frequency axis is cut into equal-width bands. Each method's relevance (summed,
signed, over its clips) marks one band as the most important; every band, that one
and those of equal width elsewhere, is attenuated in turn by ``attenuation_db`` (in
the dB input, floored at the silence level), and the change in accuracy recorded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from explainer import preprocessing as pp
from explainer.faithfulness.experiment import Clips

N_BANDS = 8
ATTENUATION_DB = 40.0
BAND_COLUMNS = ("band", "low_hz", "high_hz", "accuracy", "accuracy_change", "most_relevant_for")


def band_edges(n_bands: int = N_BANDS) -> list[tuple[int, int]]:
    """``(first bin, end bin)`` of each band over the spectrogram's 227 frequency bins."""
    bounds = np.linspace(0, pp.N_FREQ, n_bands + 1).round().astype(int)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


def band_test(
    model: torch.nn.Module,
    clips: Clips,
    relevance: dict[str, np.ndarray],
    *,
    n_bands: int = N_BANDS,
    attenuation_db: float = ATTENUATION_DB,
) -> dict[str, Any]:
    """Accuracy with each band attenuated, and which band each method marks most relevant.

    Returns
    -------
    dict
        ``baseline_accuracy``; ``rows`` (:data:`BAND_COLUMNS` plus ``relevance_share``,
        method -> share of the method's summed relevance in the band); ``attenuation_db``.
    """
    edges = band_edges(n_bands)
    baseline = _accuracy(model, clips.inputs, clips.labels)
    shares = {m: _band_shares(rel, edges) for m, rel in relevance.items()}
    bin_hz = pp.SAMPLE_RATE / pp.NPERSEG
    rows = []
    for b, (lo, hi) in enumerate(edges):
        attenuated = clips.inputs.copy()
        attenuated[:, lo:hi] = np.maximum(attenuated[:, lo:hi] - attenuation_db, -pp.TOP_DB)
        accuracy = _accuracy(model, attenuated, clips.labels)
        rows.append(
            {
                "band": b,
                "low_hz": round(lo * bin_hz, 1),
                "high_hz": round(hi * bin_hz, 1),
                "accuracy": round(accuracy, 6),
                "accuracy_change": round(accuracy - baseline, 6),
                "most_relevant_for": [m for m, s in shares.items() if int(np.argmax(s)) == b],
                "relevance_share": {m: round(float(s[b]), 6) for m, s in shares.items()},
            }
        )
    return {"baseline_accuracy": round(baseline, 6), "attenuation_db": attenuation_db, "rows": rows}


def _band_shares(relevance: np.ndarray, edges: list[tuple[int, int]]) -> np.ndarray:
    """Share of the summed signed relevance ``(n, 227, 227)`` per band (rows are frequency bins)."""
    per_bin = relevance.sum(axis=(0, 2))
    sums = np.array([per_bin[lo:hi].sum() for lo, hi in edges])
    total = np.abs(sums).sum()
    return sums / total if total else sums


def _accuracy(model: torch.nn.Module, inputs: np.ndarray, labels: np.ndarray) -> float:
    from explainer.training_loop import predict_logits

    return float(np.mean(predict_logits(model, inputs).argmax(1) == labels))
