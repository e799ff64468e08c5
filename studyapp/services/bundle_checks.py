"""Checks of a bundle's media that go beyond the manifest: decodable, in limits, matched.

The web side repeats these checks rather than trusting the producer, because a
bundle may come from another version of the explainer or be edited by hand.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from PIL import Image

MAX_AUDIO_SECONDS = 10.0
MAX_IMAGE_PIXELS = 4000 * 4000
# Audible heatmaps are loudness-matched to their original clip by the explainer;
# more than this difference would let loudness, not content, drive preferences.
LOUDNESS_TOLERANCE_DB = 1.0
SILENCE_RMS = 1e-4


def audio_info(path: Path) -> tuple[dict[str, Any], np.ndarray]:
    """Decode a WAV file; return its info and samples (float64, mono)."""
    data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    return {
        "sample_rate": int(rate),
        "duration_s": len(data) / rate,
        "channels": data.shape[1],
    }, data[:, 0]


def audio_problems(
    path: Path, rel: str, expected_rate: int, max_seconds: float
) -> tuple[list[str], float | None]:
    """Problems with one audio file, and its RMS (None if unreadable)."""
    try:
        info, samples = audio_info(path)
    except (RuntimeError, sf.LibsndfileError, ValueError) as exc:
        return [f"{rel}: audio cannot be decoded ({exc})"], None
    problems = []
    if info["channels"] != 1:
        problems.append(f"{rel}: {info['channels']} channels, expected mono")
    if info["sample_rate"] != expected_rate:
        problems.append(
            f"{rel}: sample rate {info['sample_rate']} Hz, manifest says {expected_rate} Hz"
        )
    if info["duration_s"] <= 0 or info["duration_s"] > max_seconds:
        problems.append(f"{rel}: duration {info['duration_s']:.2f} s outside (0, {max_seconds}] s")
    if not np.all(np.isfinite(samples)):
        return [*problems, f"{rel}: contains NaN or infinite samples"], None
    rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
    if rms < SILENCE_RMS:
        problems.append(f"{rel}: silent (RMS {rms:.2e})")
    return problems, rms


def image_problems(path: Path, rel: str) -> tuple[list[str], dict[str, int]]:
    """Problems with one image (decodable PNG, size in pixels) and its width and height."""
    try:
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            width, height = img.size
            fmt = img.format
    except Exception as exc:  # PIL raises many types for corrupt files
        return [f"{rel}: image cannot be decoded ({exc.__class__.__name__}: {exc})"], {}
    problems = []
    if fmt != "PNG":
        problems.append(f"{rel}: image format {fmt}, expected PNG")
    if width * height > MAX_IMAGE_PIXELS:
        problems.append(f"{rel}: image {width}x{height} is too large")
    return problems, {"width_px": width, "height_px": height}


def loudness_problem(
    stimulus_id: str, original_rms: float | None, audible_rms: float | None
) -> str | None:
    """A message if the audible heatmap's RMS level differs from the original's by more than the tolerance (dB)."""
    if not original_rms or not audible_rms:
        return None
    diff_db = 20 * math.log10(audible_rms / original_rms)
    if abs(diff_db) > LOUDNESS_TOLERANCE_DB:
        return (
            f"stimulus {stimulus_id}: audible heatmap is {diff_db:+.1f} dB louder than the original "
            f"(tolerance {LOUDNESS_TOLERANCE_DB} dB)"
        )
    return None


def media_problems(
    bundle_dir: Path, manifest: dict[str, Any]
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Decode every file once; return problems and per-path media info for storage."""
    rate = int(manifest["audio"]["sample_rate"])
    max_seconds = float(manifest["audio"].get("max_duration_s", MAX_AUDIO_SECONDS))
    problems: list[str] = []
    infos: dict[str, dict[str, Any]] = {}
    rms: dict[str, float | None] = {}
    for stim in manifest["stimuli"]:
        for _role, entry in stim["files"].items():
            rel = entry["path"]
            if rel in infos or rel in rms:
                continue
            path = Path(bundle_dir) / rel
            if not path.is_file() or path.is_symlink():
                continue  # already reported by the file checks; decoding it would only repeat that
            if entry["media_type"] == "audio/wav":
                found, rms[rel] = audio_problems(path, rel, rate, max_seconds)
                infos[rel] = {"sample_rate": rate} if not found else {}
                if not found:
                    infos[rel]["duration_s"] = sf.info(str(path)).duration
            else:
                found, infos[rel] = image_problems(path, rel)
            problems.extend(found)
        files = stim["files"]
        mismatch = loudness_problem(
            stim["id"],
            rms.get(files["original_audio"]["path"]),
            rms.get(files["audible_heatmap"]["path"]),
        )
        if mismatch:
            problems.append(mismatch)
    return problems, infos
