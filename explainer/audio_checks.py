"""Loudness matching and the checks every bundle WAV must pass.

Both files a participant compares (the original clip and its audible heatmap) are
scaled to the same RMS level, so loudness does not differ between conditions; the
common level is lowered only when a file's peaks would otherwise come within
``PEAK_CEILING_DBFS`` of full scale. The checks fail a bundle on NaN, clipping,
silence, a wrong sample rate or a wrong length.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TARGET_RMS_DBFS = (
    -26.0
)  # common loudness of original and audible heatmap (most pairs reach it within the peak ceiling)
PEAK_CEILING_DBFS = -1.0  # highest peak allowed after scaling
SILENCE_DBFS = -60.0  # an RMS below this is silence
CLIP_LEVEL = 32767 / 32768  # 16-bit full scale
WAV_SUBTYPE = "PCM_16"


def dbfs(value: float) -> float:
    """Level of a linear amplitude in dB re full scale (-inf for 0)."""
    return float(20 * np.log10(value)) if value > 0 else float("-inf")


def rms(samples: np.ndarray) -> float:
    samples = np.asarray(samples, dtype=np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def peak(samples: np.ndarray) -> float:
    samples = np.asarray(samples, dtype=np.float64)
    return float(np.max(np.abs(samples))) if samples.size else 0.0


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
    if samples.ndim != 1:
        return [f"{label}: expected a mono signal, got shape {samples.shape}"]
    if not np.all(np.isfinite(samples)):
        return [f"{label}: contains NaN or infinite samples"]
    if sample_rate != expected_rate:
        problems.append(f"{label}: sample rate {sample_rate} Hz, expected {expected_rate} Hz")
    if samples.shape[0] != expected_length:
        problems.append(f"{label}: {samples.shape[0]} samples, expected {expected_length}")
    if peak(samples) >= CLIP_LEVEL:
        problems.append(f"{label}: clips (peak {dbfs(peak(samples)):.2f} dBFS)")
    if dbfs(rms(samples)) < SILENCE_DBFS:
        problems.append(
            f"{label}: silent (RMS {dbfs(rms(samples)):.1f} dBFS, below {SILENCE_DBFS:.0f})"
        )
    return problems


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


def check_wav_file(
    path: Path, *, expected_rate: int, max_duration_s: float | None, label: str
) -> list[str]:
    """Every problem with a WAV file in a bundle: undecodable, not mono, rate, length, NaN, clipping, silence."""
    return read_checked_wav(
        path, expected_rate=expected_rate, max_duration_s=max_duration_s, label=label
    )[0]


def read_checked_wav(
    path: Path, *, expected_rate: int, max_duration_s: float | None, label: str
) -> tuple[list[str], np.ndarray | None]:
    """:func:`check_wav_file`'s problems and the decoded ``(n,)`` samples (None if undecodable)."""
    import soundfile as sf

    try:
        samples, rate = sf.read(path, dtype="float64", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError) as exc:
        return [f"{label}: cannot decode as audio ({exc})"], None
    if samples.shape[1] != 1:
        return [f"{label}: {samples.shape[1]} channels, expected mono"], None
    signal = samples[:, 0]
    problems = []
    if max_duration_s is not None and signal.shape[0] > round(max_duration_s * rate):
        problems.append(
            f"{label}: {signal.shape[0] / rate:.3f} s long, longer than {max_duration_s} s"
        )
    problems += check_signal(
        signal, rate, expected_rate=expected_rate, expected_length=signal.shape[0], label=label
    )
    return problems, signal
