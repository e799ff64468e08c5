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
GRID = 10  # spectrogram-like inputs: a 10 x 10 grid of patches (23 x 23 on the 227 x 227 input)


@dataclass(frozen=True)
class RegionMap:
    """Region index per input element.

    Attributes
    ----------
    labels : numpy.ndarray
        The input's shape (``(8000,)``, ``(227, 227)``, ``(64, 227)`` ...), int64, values
        ``0 .. n_regions - 1``.
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
    """Waveform: consecutive segments of ``segment_ms``; otherwise a :data:`GRID` x :data:`GRID` patch grid.

    The grid is over the representation's own input shape, so a log-mel input (fewer
    rows than the STFT) gets patches as many bands tall as its rows allow.
    """
    shape = pp.input_shape(representation)
    if representation == "waveform":
        width = max(1, int(round(segment_ms * pp.SAMPLE_RATE / 1000)))
        labels = np.arange(shape[0]) // width
        record = {"region": "waveform segment", "region_ms": width * 1000 / pp.SAMPLE_RATE}
        return RegionMap(labels.astype(np.int64), int(labels.max()) + 1, record)
    n_rows, n_cols = shape
    bins, frames = -(-n_rows // GRID), -(-n_cols // GRID)
    rows, cols = np.arange(n_rows) // bins, np.arange(n_cols) // frames
    grid_cols = int(cols.max()) + 1
    labels = rows[:, None] * grid_cols + cols[None, :]
    record: dict[str, Any] = {
        "region": "time-frequency patch",
        "patch": {"bins": bins, "frames": frames},
        "patch_ms": round(frames * pp.HOP * 1000 / pp.SAMPLE_RATE, 3),
    }
    if n_rows == pp.N_FREQ:  # linear STFT bins: a patch spans a fixed band width
        record["patch_hz"] = round(bins * pp.SAMPLE_RATE / pp.NPERSEG, 3)
    return RegionMap(labels.astype(np.int64), int(labels.max()) + 1, record)
