"""Stimulus bundle v1, its media: what every WAV must be, and when a pair counts as loudness-matched.

The explainer checks a new bundle with these rules before renaming it into place, and
the study site checks every bundle with them again before importing it (a bundle may
come from another version of the explainer or be edited by hand). One rule in one
place: a bundle cannot pass one side and fail the other. Standard library, numpy and
soundfile only, like the rest of the contract (images are checked by each side with
Pillow, which the contract does not use).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

# Original and audible heatmap are scaled to one RMS level by the explainer (exactly, up
# to 16-bit rounding: ~0.001 dB); more than this difference would let loudness, not
# content, drive preferences.
LOUDNESS_TOLERANCE_DB = 0.5
SILENCE_DBFS = -60.0  # an RMS below this is silence
CLIP_LEVEL = 32767 / 32768  # 16-bit full scale: a sample this large was clipped
MAX_AUDIO_SECONDS = 10.0  # longest file when the manifest gives no ``max_duration_s``


def dbfs(value: float) -> float:
    """Level of a linear amplitude in dB re full scale (-inf for 0)."""
    return float(20 * np.log10(value)) if value > 0 else float("-inf")


def rms(samples: np.ndarray) -> float:
    """Root mean square of ``(n,)`` samples (full scale +-1); 0 for none."""
    samples = np.asarray(samples, dtype=np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def peak(samples: np.ndarray) -> float:
    """Largest absolute sample of ``(n,)`` samples; 0 for none."""
    samples = np.asarray(samples, dtype=np.float64)
    return float(np.max(np.abs(samples))) if samples.size else 0.0


def signal_problems(samples: np.ndarray, *, label: str) -> list[str]:
    """Every problem with a signal's content: not mono, NaN or infinite, clipped, silent.

    Parameters
    ----------
    samples : numpy.ndarray
        ``(n,)`` float signal, full scale +-1.
    label : str
        Names the signal in messages.
    """
    samples = np.asarray(samples)
    if samples.ndim != 1:
        return [f"{label}: expected a mono signal, got shape {samples.shape}"]
    if not np.all(np.isfinite(samples)):
        return [f"{label}: contains NaN or infinite samples"]
    problems = []
    if peak(samples) >= CLIP_LEVEL:
        problems.append(f"{label}: clips (peak {dbfs(peak(samples)):.2f} dBFS)")
    if dbfs(rms(samples)) < SILENCE_DBFS:
        problems.append(
            f"{label}: silent (RMS {dbfs(rms(samples)):.1f} dBFS, below {SILENCE_DBFS:.0f})"
        )
    return problems


def read_wav(
    path: Path, *, expected_rate: int, max_duration_s: float | None, label: str
) -> tuple[list[str], np.ndarray | None]:
    """Decode one bundle WAV and check it: decodable, mono, its rate, its duration, its content.

    Parameters
    ----------
    expected_rate : int
        The manifest's ``audio.sample_rate``, Hz.
    max_duration_s : float, optional
        The manifest's ``audio.max_duration_s`` (default :data:`MAX_AUDIO_SECONDS`), s.

    Returns
    -------
    tuple
        Every problem (empty if none) and the ``(n,)`` float64 samples (None if the file
        does not decode as mono audio).
    """
    try:
        samples, rate = sf.read(path, dtype="float64", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError) as exc:
        return [f"{label}: cannot decode as audio ({exc})"], None
    if samples.shape[1] != 1:
        return [f"{label}: {samples.shape[1]} channels, expected mono"], None
    signal = samples[:, 0]
    longest = MAX_AUDIO_SECONDS if max_duration_s is None else max_duration_s
    problems = []
    if rate != expected_rate:
        problems.append(f"{label}: sample rate {rate} Hz, the manifest says {expected_rate} Hz")
    if not 0 < signal.shape[0] <= round(longest * rate):
        problems.append(
            f"{label}: duration {signal.shape[0] / rate:.3f} s outside (0, {longest}] s"
        )
    return problems + signal_problems(signal, label=label), signal


def loudness_problem(
    stimulus_id: str, original_dbfs: float, audible_dbfs: float, *, matching: str
) -> str | None:
    """A message if a pair the manifest calls loudness-matched is not, else None.

    Parameters
    ----------
    original_dbfs, audible_dbfs : float
        RMS levels of the original clip and its audible heatmap, dBFS.
    matching : str
        The manifest's ``audio.loudness_matching``. Only ``"rms"`` is checked here: a
        ``"lufs"`` match needs a loudness model (ITU-R BS.1770), which the contract
        does not carry, and equal LUFS need not mean equal RMS.
    """
    if matching != "rms":
        return None
    difference = audible_dbfs - original_dbfs
    if abs(difference) <= LOUDNESS_TOLERANCE_DB:
        return None
    return (
        f"stimulus {stimulus_id}: audible heatmap is {difference:+.2f} dB louder than the "
        f"original (RMS; loudness matching says equal, tolerance {LOUDNESS_TOLERANCE_DB} dB)"
    )
