"""Loudness matching and the checks every bundle WAV must pass.

Both files a participant compares (the original clip and its audible heatmap) are given
one loudness, so loudness does not differ between conditions:

- ``rms``: both are scaled to the same RMS level;
- ``bs1770``: the original is scaled as for ``rms``, and the audible heatmap to the
  original's integrated loudness (ITU-R BS.1770-4: K-weighting, 400 ms blocks, gated at
  -70 LUFS and -10 LU; measured with pyloudnorm). An audible heatmap keeps only the
  relevant stretches of the clip, so at equal RMS it is spikier (higher crest factor)
  and its gated loudness higher than the original's; BS.1770 measures what is heard.
  Where the gated loudness is undefined (a signal shorter than one 400 ms block, or
  silent) the pair falls back to ``rms``, and its record says so.

Either way the common level is lowered only when a file's peaks would otherwise come
within ``PEAK_CEILING_DBFS`` of full scale (sample peaks). Before a file is written,
:func:`check_signal` fails it on a wrong sample rate or length and on the bundle
contract's own rules (:mod:`contracts.bundle_media`: NaN, clipping, silence).
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
LOUDNESS_MATCHING = ("bs1770", "rms")
BS1770_BLOCK_S = 0.4  # the standard's gating block


@dataclass(frozen=True)
class Matched:
    """Original and audible heatmap at one loudness, and how they got there."""

    original: np.ndarray
    audible: np.ndarray
    record: dict[str, Any]


def integrated_loudness(signal: np.ndarray, sample_rate: int) -> float | None:
    """ITU-R BS.1770-4 integrated loudness of a mono signal, LUFS; None where undefined
    (shorter than one 400 ms block, or every block below the -70 LUFS gate)."""
    import pyloudnorm

    signal = np.asarray(signal, dtype=np.float64)
    if signal.shape[0] < BS1770_BLOCK_S * sample_rate:
        return None
    value = float(
        pyloudnorm.Meter(sample_rate, block_size=BS1770_BLOCK_S).integrated_loudness(signal)
    )
    return value if np.isfinite(value) else None


def match_loudness(
    original: np.ndarray,
    audible: np.ndarray,
    *,
    method: str = "rms",
    sample_rate: int | None = None,
    target_rms_dbfs: float = TARGET_RMS_DBFS,
    peak_ceiling_dbfs: float = PEAK_CEILING_DBFS,
) -> Matched:
    """Give both signals one loudness (the manifest's ``audio_checks.loudness``).

    Parameters
    ----------
    original, audible : numpy.ndarray
        ``(n,)`` float signals at the playback rate. A silent signal is returned
        unscaled; :func:`check_signal` then reports it.
    method : str
        ``"rms"`` or ``"bs1770"`` (see the module docstring).
    sample_rate : int, optional
        Their rate, Hz (needed by ``bs1770``).
    target_rms_dbfs : float
        Wanted RMS level of the original (and, with ``rms``, of both), dB re full scale.
    peak_ceiling_dbfs : float
        The common level is lowered until neither signal peaks above this.

    Returns
    -------
    Matched
        ``record`` holds the method used (and the fallback's reason), the level
        reached, whether headroom lowered it, and each signal's gain, RMS and peak (dB)
        after scaling (and, with ``bs1770``, its loudness, LUFS).
    """
    if method not in LOUDNESS_MATCHING:
        raise ValueError(f"unknown loudness matching {method!r}; choose one of {LOUDNESS_MATCHING}")
    signals = [np.asarray(s, dtype=np.float64) for s in (original, audible)]
    target = 10 ** (target_rms_dbfs / 20)
    gains = [target / rms(s) if rms(s) > 0 else 1.0 for s in signals]
    extra: dict[str, Any] = {}
    if method == "bs1770":
        if sample_rate is None:
            raise ValueError("bs1770 loudness matching needs the sample rate")
        # Measured at the RMS target, so the -70 LUFS gate only ever drops true silence.
        loudness = [
            integrated_loudness(s * g, sample_rate) for s, g in zip(signals, gains, strict=True)
        ]
        if None in loudness:
            method = "rms"
            extra["fallback"] = (
                "rms: BS.1770 gated loudness undefined (shorter than 400 ms or silent)"
            )
        else:
            gains[1] *= 10 ** ((loudness[0] - loudness[1]) / 20)
    # The highest common level at which neither signal's peak passes the ceiling.
    top = max(peak(s) * g for s, g in zip(signals, gains, strict=True))
    cut = min(1.0, 10 ** (peak_ceiling_dbfs / 20) / top) if top > 0 else 1.0
    scaled = [s * g * cut for s, g in zip(signals, gains, strict=True)]
    entries = {
        name: _levels(out, g * cut, sample_rate if method == "bs1770" else None)
        for name, out, g in zip(("original", "audible"), scaled, gains, strict=True)
    }
    record = {
        "method": method,
        **extra,
        "target_rms_dbfs": target_rms_dbfs,
        "matched_rms_dbfs": round(dbfs(target * cut), 3),
        "limited_by_headroom": bool(cut < 1.0),
        "peak_ceiling_dbfs": peak_ceiling_dbfs,
        **entries,
    }
    return Matched(scaled[0], scaled[1], record)


def planned_matching(render: dict[str, Any]) -> str:
    """A plan's loudness matching (plans from before ``--loudness`` matched on RMS)."""
    return render.get("loudness_matching", "rms")


def loudness_params(method: str) -> dict[str, Any]:
    """How the pairs were given one loudness, for the manifest's ``rendering.loudness``."""
    from importlib import metadata

    if method == "rms":
        return {"how": "original and audible heatmap scaled to one RMS level"}
    return {
        "how": "original scaled to the RMS target; audible heatmap scaled to the original's integrated loudness",
        "meter": f"ITU-R BS.1770-4 (pyloudnorm {metadata.version('pyloudnorm')}, K-weighting, "
        f"{BS1770_BLOCK_S * 1000:.0f} ms blocks, 75% overlap, gates -70 LUFS and -10 LU)",
        "fallback": "rms for a pair whose gated loudness is undefined (shorter than one block, or silent); "
        "its audio_checks.loudness says so",
    }


def _levels(signal: np.ndarray, gain: float, sample_rate: int | None) -> dict[str, Any]:
    """A scaled signal's gain, RMS and peak (dB), and its loudness (LUFS) given a rate."""
    entry = {
        "gain_db": round(dbfs(gain), 3),
        "rms_dbfs": _round_db(rms(signal)),
        "peak_dbfs": _round_db(peak(signal)),
    }
    if sample_rate is not None:
        loudness = integrated_loudness(signal, sample_rate)
        entry["lufs"] = None if loudness is None else round(loudness, 3)
    return entry


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
