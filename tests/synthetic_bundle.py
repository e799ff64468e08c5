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


CUE_SPAN_S = (0.1, 0.3)
CUE_HZ = 1500.0


def _stimulus(
    bundle_dir: Path,
    index: int,
    label: int,
    predicted: int,
    method: str,
    practice: bool,
    cue_class: int | None = None,
) -> dict[str, Any]:
    t = np.arange(RATE) / RATE
    tone = 0.3 * np.sin(2 * np.pi * (200 + 40 * label + index) * t) * np.hanning(RATE)
    if cue_class is not None:  # an audible tone burst, as a planted cue would be
        burst = (t >= CUE_SPAN_S[0]) & (t < CUE_SPAN_S[1])
        tone = tone + 0.2 * burst * np.sin(2 * np.pi * (CUE_HZ + 50 * cue_class) * t)
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


def _cued(stim: dict[str, Any], cue_class: int | None, *, follows_cue: bool) -> dict[str, Any]:
    """Add the planted-cue fields: a model that follows the cue decides by it, with relevance on it."""
    if cue_class is None:
        return {**stim, "cue": {"present": False}, "decision_basis": "spoken"}
    start, end = CUE_SPAN_S
    return {
        **stim,
        "cue": {"present": True, "class": str(cue_class), "start_s": start, "end_s": end},
        "decision_basis": "cue" if follows_cue else "spoken",
        "relevance_in_cue": 0.8 if follows_cue else 0.1,
        "label_audible": {"value": not follows_cue, "how": "synthetic"},
    }


def faithfulness_record(index: int, probability: float) -> dict[str, Any]:
    """Per-stimulus faithfulness as the bundle contract states it, varied over stimuli and
    consistent with its definitions (p = the explained class's probability on the clip)."""
    heard = round(0.15 + 0.8 * ((index * 37) % 100) / 100, 4)  # p on the audible heatmap
    return {
        "deletion_aopc": round(0.05 + 0.6 * ((index * 53) % 100) / 100, 4),
        "random_aopc": round(0.02 + 0.2 * ((index * 29) % 100) / 100, 4),
        "decision_kept": heard > 0.5,
        "heard_probability": heard,
        "avg_drop": max(0.0, probability - heard) / probability,
        "avg_increase": int(heard > probability),
        "avg_gain": max(0.0, heard - probability) / (1 - probability),
    }


def write_synthetic_bundle(
    bundle_dir: Path,
    *,
    n: int = 24,
    methods: tuple[str, ...] = ("lrp-epsilon-plus-flat",),
    n_practice: int = 2,
    share_wrong: float = 0.25,
    share_cue: float = 0.0,
    control_model: bool = False,
    heard_label_baseline: float | None = None,
    faithfulness: bool = False,
) -> Path:
    """Write a bundle of ``n`` stimuli per method into ``bundle_dir``; return the folder.

    ``share_cue``: share of main clips carrying a cue of another class (cue-conflict
    clips), which the bundle's model ("cued") follows. ``control_model`` adds the same
    clips explained by a control model that ignores the cue (bundle field ``models``).
    ``faithfulness`` gives every stimulus the per-stimulus ``faithfulness`` record.
    """
    bundle_dir.mkdir(parents=True, exist_ok=True)
    stimuli = []
    cue_every = int(round(1 / share_cue)) if share_cue else 0
    for method in methods:
        for i in range(n):
            label = i % 10
            cue = (label + 3) % 10 if cue_every and i >= n_practice and i % cue_every == 1 else None
            wrong = (
                i >= n_practice and (i % int(round(1 / share_wrong))) == 0 if share_wrong else False
            )
            predicted = cue if cue is not None else (label + 1) % 10 if wrong else label
            stim = _stimulus(bundle_dir, i, label, predicted, method, i < n_practice, cue)
            stimuli.append(_cued(stim, cue, follows_cue=True) if share_cue else stim)
            if control_model:
                control = _stimulus(bundle_dir, i, label, label, method, i < n_practice, cue)
                control = {**_cued(control, cue, follows_cue=False), "model_id": "control"}
                stimuli.append({**control, "id": f"{control['id']}-control"})
    if faithfulness:
        for index, stim in enumerate(stimuli):
            stim["faithfulness"] = faithfulness_record(index, max(stim["scores"]))
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
    if control_model:
        manifest["model"]["role"] = "cued"
        manifest["models"] = {"control": {**manifest["model"], "role": "control"}}
    if heard_label_baseline is not None:
        manifest["heard_label_baseline"] = {
            "forward_simulation": {"value": heard_label_baseline, "how": "synthetic"}
        }
    write_manifest(bundle_dir, manifest)
    return bundle_dir
