"""Loudness matching and the checks every bundle WAV must pass.

Both files a participant compares (the original clip and its audible heatmap) are
scaled to the same RMS level, so loudness does not differ between conditions; the
common level is lowered only when a file's peaks would otherwise come within
``PEAK_CEILING_DBFS`` of full scale. Before a file is written, :func:`check_signal`
fails it on a wrong sample rate or length and on the bundle contract's own rules
(:mod:`contracts.bundle_media`: NaN, clipping, silence).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from contracts.bundle_media import dbfs, peak, rms, signal_problems

TARGET_RMS_DBFS = (
    -26.0
)  # common loudness of original and audible heatmap (most pairs reach it within the peak ceiling)
PEAK_CEILING_DBFS = -1.0  # highest peak allowed after scaling
WAV_SUBTYPE = "PCM_16"


@dataclass(frozen=True)
class Matched:
    """Original and audible heatmap at a common RMS, and how they got there."""

    original: np.ndarray
    audible: np.ndarray
    record: dict[str, Any]


def match_loudness(
    original: np.ndarray,
    audible: np.ndarray,
    *,
    target_rms_dbfs: float = TARGET_RMS_DBFS,
    peak_ceiling_dbfs: float = PEAK_CEILING_DBFS,
) -> Matched:
    """Scale both signals to one RMS level (the manifest's ``audio_checks.loudness``).

    Parameters
    ----------
    original, audible : numpy.ndarray
        ``(n,)`` float signals at the playback rate. A silent signal is returned
        unscaled; :func:`check_signal` then reports it.
    target_rms_dbfs : float
        Wanted RMS level of both, dB re full scale.
    peak_ceiling_dbfs : float
        The common level is lowered until neither signal peaks above this.

    Returns
    -------
    Matched
        ``record`` holds the level reached, whether headroom lowered it, and each
        signal's gain, RMS and peak (dB) after scaling.
    """
    levels = [(rms(s), peak(s)) for s in (original, audible)]
    ceiling = 10 ** (peak_ceiling_dbfs / 20)
    target = 10 ** (target_rms_dbfs / 20)
    # The highest common RMS at which neither signal's peak passes the ceiling.
    limit = min((ceiling * r / p for r, p in levels if r > 0), default=target)
    level = min(target, limit)
    scaled, entries = [], {}
    for name, signal, (r, _) in zip(
        ("original", "audible"), (original, audible), levels, strict=True
    ):
        gain = level / r if r > 0 else 1.0
        out = np.asarray(signal, dtype=np.float64) * gain
        scaled.append(out)
        entries[name] = {
            "gain_db": round(dbfs(gain), 3),
            "rms_dbfs": _round_db(rms(out)),
            "peak_dbfs": _round_db(peak(out)),
        }
    record = {
        "method": "rms",
        "target_rms_dbfs": target_rms_dbfs,
        "matched_rms_dbfs": round(dbfs(level), 3),
        "limited_by_headroom": bool(limit < target),
        "peak_ceiling_dbfs": peak_ceiling_dbfs,
        **entries,
    }
    return Matched(scaled[0], scaled[1], record)


def _round_db(value: float) -> float | None:
    level = dbfs(value)
    return None if not np.isfinite(level) else round(level, 3)


def check_signal(
    samples: np.ndarray, sample_rate: int, *, expected_rate: int, expected_length: int, label: str
) -> list[str]:
    """Every problem with a signal about to be written (empty if none).

    Parameters
    ----------
    samples : numpy.ndarray
        ``(n,)`` float signal, full scale +-1.
    sample_rate, expected_rate : int
        Its rate and the bundle's, Hz.
    expected_length : int
        Samples it must have.
    label : str
        Names the signal in messages.
    """
    samples = np.asarray(samples)
    problems = []
    if sample_rate != expected_rate:
        problems.append(f"{label}: sample rate {sample_rate} Hz, expected {expected_rate} Hz")
    if samples.ndim == 1 and samples.shape[0] != expected_length:
        problems.append(f"{label}: {samples.shape[0]} samples, expected {expected_length}")
    return problems + signal_problems(samples, label=label)


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM mono WAV of a float signal (full scale +-1); deterministic bytes."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(
        buffer,
        np.asarray(samples, dtype=np.float64),
        sample_rate,
        subtype=WAV_SUBTYPE,
        format="WAV",
    )
    return buffer.getvalue()
