"""The input regions a perturbation removes: segments of a waveform, patches of a spectrogram.

A region map labels every element of the network input with its region's index, so one
map serves every clip of a representation and relevance sums per region are one
``bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from explainer import preprocessing as pp

SEGMENT_MS = 10.0  # waveform segments: 80 samples at 8 kHz, 100 per window
PATCH = (23, 23)  # spectrogram patches: (frequency bins, frames), 10 x 10 per input


@dataclass(frozen=True)
class RegionMap:
    """Region index per input element.

    Attributes
    ----------
    labels : numpy.ndarray
        ``(8000,)`` or ``(227, 227)`` int64, values ``0 .. n_regions - 1``.
    n_regions : int
    record : dict
        What a region is, for the output's provenance (``region``, ``region_ms`` or ``patch``).
    """

    labels: np.ndarray
    n_regions: int
    record: dict[str, Any]

    def scores(self, relevance: np.ndarray) -> np.ndarray:
        """Summed relevance per region: ``(n_clips, *input_shape)`` -> ``(n_clips, n_regions)``.

        The signed sum, as in Samek et al. (2017): a region whose relevance speaks
        against the class comes last in MoRF order.
        """
        flat = np.asarray(relevance, dtype=np.float64).reshape(relevance.shape[0], -1)
        labels = self.labels.reshape(-1)
        out = np.zeros((flat.shape[0], self.n_regions))
        np.add.at(out, (slice(None), labels), flat)
        return out


def region_map(representation: str, *, segment_ms: float = SEGMENT_MS) -> RegionMap:
    """Waveform: consecutive segments of ``segment_ms``; spectrogram: :data:`PATCH` patches."""
    if representation == "waveform":
        width = max(1, int(round(segment_ms * pp.SAMPLE_RATE / 1000)))
        labels = np.arange(pp.WINDOW) // width
        record = {"region": "waveform segment", "region_ms": width * 1000 / pp.SAMPLE_RATE}
        return RegionMap(labels.astype(np.int64), int(labels.max()) + 1, record)
    rows, cols = np.arange(pp.N_FREQ) // PATCH[0], np.arange(pp.N_FREQ) // PATCH[1]
    n_cols = int(cols.max()) + 1
    labels = rows[:, None] * n_cols + cols[None, :]
    record = {
        "region": "time-frequency patch",
        "patch": {"bins": PATCH[0], "frames": PATCH[1]},
        "patch_hz": round(PATCH[0] * pp.SAMPLE_RATE / pp.NPERSEG, 3),
        "patch_ms": round(PATCH[1] * pp.HOP * 1000 / pp.SAMPLE_RATE, 3),
    }
    return RegionMap(labels.astype(np.int64), int(labels.max()) + 1, record)
