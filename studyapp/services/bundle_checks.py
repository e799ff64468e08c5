"""Checks of a bundle's media that go beyond the manifest: decodable, in limits, matched.

The web side repeats these checks rather than trusting the producer, because a
bundle may come from another version of the explainer or be edited by hand. The
audio rule (decoding, rate, duration, clipping, silence, loudness tolerance) is the
contract's own, :mod:`contracts.bundle_media`, which the explainer applies too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from contracts import bundle_media

MAX_IMAGE_PIXELS = 4000 * 4000


def image_problems(path: Path, *, rel: str) -> tuple[list[str], dict[str, int]]:
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


def media_problems(
    bundle_dir: Path, *, manifest: dict[str, Any]
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Decode every file once; return problems and per-path media info for storage."""
    audio = manifest["audio"]
    problems: list[str] = []
    infos: dict[str, dict[str, Any]] = {}
    levels: dict[str, float | None] = {}
    for stim in manifest["stimuli"]:
        for _role, entry in stim["files"].items():
            rel = entry["path"]
            if rel in infos or rel in levels:
                continue
            path = Path(bundle_dir) / rel
            if not path.is_file() or path.is_symlink():
                continue  # already reported by the file checks; decoding it would only repeat that
            if entry["media_type"] == "audio/wav":
                found, levels[rel], infos[rel] = _audio(path, rel, audio)
            else:
                found, infos[rel] = image_problems(path, rel=rel)
            problems.extend(found)
        pair = [
            levels.get(stim["files"][role]["path"])
            for role in ("original_audio", "audible_heatmap")
        ]
        mismatch = None
        if None not in pair:
            mismatch = bundle_media.loudness_problem(
                stim["id"], *pair, matching=audio["loudness_matching"]
            )
        problems += [mismatch] if mismatch else []
    return problems, infos


def _audio(
    path: Path, rel: str, audio: dict[str, Any]
) -> tuple[list[str], float | None, dict[str, Any]]:
    """One WAV's problems (the contract's rule), RMS level (dBFS) and media info (if it passes)."""
    rate = int(audio["sample_rate"])
    found, samples = bundle_media.read_wav(
        path, expected_rate=rate, max_duration_s=audio.get("max_duration_s"), label=rel
    )
    if found or samples is None:
        return found, None, {}
    level = bundle_media.dbfs(bundle_media.rms(samples))
    return [], level, {"sample_rate": rate, "duration_s": samples.shape[0] / rate}
