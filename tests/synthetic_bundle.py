"""A small but genuine stimulus bundle made without torch: real WAV and PNG files.

The web tests use it so they do not have to train a model; the contract tests in
``tests/contract`` use a bundle written by the real explainer instead.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from PIL import Image

from contracts.bundle_format import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    content_file_name,
    sha256_bytes,
    write_manifest,
)

RATE = 8000


def _wav_bytes(signal: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal.astype(np.float32), RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _png_bytes(seed: int, width: int = 600, height: int = 200) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = (rng.random((height, width, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _put(bundle_dir: Path, data: bytes, suffix: str, media_type: str) -> dict[str, str]:
    sha = sha256_bytes(data)
    rel = content_file_name(sha, suffix)
    (bundle_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    (bundle_dir / rel).write_bytes(data)
    return {"path": rel, "sha256": sha, "media_type": media_type}


def _stimulus(
    bundle_dir: Path, index: int, label: int, predicted: int, method: str, practice: bool
) -> dict[str, Any]:
    t = np.arange(RATE) / RATE
    tone = 0.3 * np.sin(2 * np.pi * (200 + 40 * label + index) * t) * np.hanning(RATE)
    envelope = np.clip(np.sin(np.pi * t) ** 2, 0, 1)
    audible = tone * envelope
    audible *= np.sqrt(np.mean(tone**2) / np.mean(audible**2))  # RMS-matched, as the explainer does
    files = {
        "original_audio": _put(bundle_dir, _wav_bytes(tone), ".wav", "audio/wav"),
        "audible_heatmap": _put(bundle_dir, _wav_bytes(audible), ".wav", "audio/wav"),
        "visual_heatmap": _put(bundle_dir, _png_bytes(2 * index), ".png", "image/png"),
        "plain_image": _put(bundle_dir, _png_bytes(2 * index + 1), ".png", "image/png"),
    }
    scores = [0.02] * 10
    scores[predicted] = 0.82
    return {
        "id": f"s{index:04d}-{method}",
        "source": {
            "recording": f"{index % 6 + 1:02d}/{label}_{index % 6 + 1:02d}_{index}.wav",
            "speaker": f"{index % 6 + 1:02d}",
            "take": index,
        },
        "true_label": str(label),
        "predicted_label": str(predicted),
        "scores": scores,
        "correct": label == predicted,
        "method": method,
        "practice": practice,
        "files": files,
        "timeline": {"x0_px": 60, "x1_px": 560, "width_px": 600, "t0_s": 0.0, "t1_s": 1.0},
    }


def write_synthetic_bundle(
    bundle_dir: Path,
    *,
    n: int = 24,
    methods: tuple[str, ...] = ("lrp-epsilon-plus-flat",),
    n_practice: int = 2,
    share_wrong: float = 0.25,
) -> Path:
    """Write a bundle of ``n`` stimuli per method into ``bundle_dir``; return the folder."""
    bundle_dir.mkdir(parents=True, exist_ok=True)
    stimuli = []
    for method in methods:
        for i in range(n):
            label = i % 10
            wrong = (
                i >= n_practice and (i % int(round(1 / share_wrong))) == 0 if share_wrong else False
            )
            stimuli.append(
                _stimulus(
                    bundle_dir,
                    i,
                    label,
                    (label + 1) % 10 if wrong else label,
                    method,
                    i < n_practice,
                )
            )
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "generator": {"name": "tests.synthetic_bundle", "version": "0"},
        "model": {
            "architecture": "audionet",
            "task": "digit",
            "input": "waveform",
            "classes": [str(d) for d in range(10)],
            "weights_sha256": "0" * 64,
            "test_accuracy": 0.9,
            "training_data": {"description": "synthetic tones", "fingerprint": "synthetic"},
        },
        "audio": {"sample_rate": RATE, "loudness_matching": "rms"},
        "methods": {m: {"params": {}} for m in methods},
        "selection": {"seed": 0, "design": {"per_class": n // 10}},
        "stimuli": stimuli,
    }
    write_manifest(bundle_dir, manifest)
    return bundle_dir
