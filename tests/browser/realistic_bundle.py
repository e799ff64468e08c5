"""A small bundle whose pictures are drawn by the explainer's own renderer (no torch).

The browser tests use it so that screenshots show what participants really see (a
waveform coloured by relevance, the plain waveform) and so that the playhead is
checked against the image layout the explainer actually writes (``heatmaps.timeline``).
The sounds are voiced-like tone bursts inside one second of silence; relevance is
positive on the burst's strong part and slightly negative on its tail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from contracts.bundle_format import BUNDLE_FORMAT, BUNDLE_VERSION, write_manifest
from explainer import heatmaps
from tests.synthetic_bundle import RATE, _put, _wav_bytes


def _clip(label: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(window, relevance), each ``(8000,)``: a burst from 0.2 to 0.75 s and its relevance."""
    t = np.arange(RATE) / RATE
    start, end = 0.2 + 0.02 * (index % 3), 0.75
    inside = (t >= start) & (t < end)
    envelope = np.where(inside, np.sin(np.pi * (t - start) / (end - start)) ** 2, 0.0)
    f0 = 120 + 15 * label
    voice = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))
    window = 0.25 * envelope * voice / np.abs(voice).max()
    relevance = window * np.where(t < start + 0.6 * (end - start), 1.0, -0.4)
    return window, relevance


def _audible(window: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    mask = np.convolve(
        np.clip(relevance, 0, None) ** 2, np.hanning(161) / np.hanning(161).sum(), mode="same"
    )
    audible = window * mask / mask.max()
    return audible * np.sqrt(
        np.mean(window**2) / np.mean(audible**2)
    )  # loudness matched, as the explainer does


def _stimulus(
    bundle_dir: Path, index: int, label: int, predicted: int, method: str, practice: bool
) -> dict[str, Any]:
    window, relevance = _clip(label, index)
    files = {
        "original_audio": _put(bundle_dir, _wav_bytes(window), ".wav", "audio/wav"),
        "audible_heatmap": _put(
            bundle_dir, _wav_bytes(_audible(window, relevance)), ".wav", "audio/wav"
        ),
        "visual_heatmap": _put(
            bundle_dir, heatmaps.render_waveform(window, relevance), ".png", "image/png"
        ),
        "plain_image": _put(
            bundle_dir, heatmaps.render_waveform(window, None), ".png", "image/png"
        ),
    }
    scores = [0.02] * 10
    scores[predicted] = 0.82
    speaker = f"{index % 6 + 1:02d}"
    return {
        "id": f"r{index:04d}",
        "source": {
            "recording": f"{speaker}/{label}_{speaker}_{index}.wav",
            "speaker": speaker,
            "take": index,
        },
        "true_label": str(label),
        "predicted_label": str(predicted),
        "scores": scores,
        "correct": label == predicted,
        "method": method,
        "practice": practice,
        "files": files,
        "timeline": heatmaps.timeline(),
    }


def write_realistic_bundle(
    bundle_dir: Path, *, n: int = 16, methods: tuple[str, ...] = ("lrp-epsilon-plus-flat",)
) -> Path:
    """Write ``n`` stimuli per method (two flagged as practice, every fourth one a model error)."""
    bundle_dir.mkdir(parents=True, exist_ok=True)
    stimuli = []
    for k, method in enumerate(methods):
        for i in range(n):
            label = i % 10
            wrong = i >= 2 and i % 4 == 0
            stim = _stimulus(
                bundle_dir, i, label, (label + 3) % 10 if wrong else label, method, i < 2
            )
            stimuli.append({**stim, "id": stim["id"] + (f"-m{k}" if k else "")})
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "generator": {"name": "tests.browser.realistic_bundle", "version": "0"},
        "model": {
            "architecture": "audionet",
            "task": "digit",
            "input": "waveform",
            "classes": [str(d) for d in range(10)],
            "weights_sha256": "0" * 64,
            "test_accuracy": 0.9,
            "training_data": {"description": "synthetic voiced bursts", "fingerprint": "synthetic"},
        },
        "audio": {"sample_rate": RATE, "loudness_matching": "rms"},
        "methods": {m: {"params": {}} for m in methods},
        # What the page needs to draw the pictures' axes itself (studyapp/views/pictures.py).
        "rendering": {
            "visual": {
                "colormap": "red-blue",
                "colormap_colours": list(heatmaps.COLORMAPS["red-blue"]),
                "timeline": heatmaps.timeline(),
            }
        },
        "selection": {"seed": 0, "design": {"per_class": 1}},
        "stimuli": stimuli,
    }
    write_manifest(bundle_dir, manifest)
    return bundle_dir
