"""Audible heatmaps: the parts of a recording the network relied on, as sound.

* Waveform model (AudioNet), as in the paper: relevance x signal. Only positive
  relevance (evidence for the explained class) is kept, smoothed into an envelope
  (a Hann window of ``envelope_ms``) so the result does not crackle, scaled to a peak
  of one, and multiplied with the signal.
* Spectrogram model (AlexNet), beyond the paper: positive relevance is mapped back
  onto the STFT bins, smoothed over time the same way, used as a mask on the STFT
  magnitude (the original phase is kept), and inverted with the same STFT parameters.

Both are then brought to the playback rate and to the original's loudness
(:func:`explainer.audio_checks.match_loudness`).
"""

from __future__ import annotations

from math import gcd
from typing import Any

import numpy as np
from scipy import signal as sps

from explainer import preprocessing as pp

DEFAULT_ENVELOPE_MS = 20.0


def smoothing_window(window_ms: float, step_rate: float) -> np.ndarray:
    """Unit-sum Hann window ``window_ms`` long at ``step_rate`` steps per second (at least 1 tap)."""
    if window_ms < 0:
        raise ValueError(f"envelope window must be >= 0 ms, got {window_ms}")
    taps = int(round(window_ms / 1000 * step_rate))
    if taps < 2:
        return np.ones(1)
    window = np.hanning(taps + 2)[1:-1]  # without the zero end points
    return window / window.sum()


def relevance_envelope(
    relevance: np.ndarray,
    *,
    sample_rate: int = pp.SAMPLE_RATE,
    envelope_ms: float = DEFAULT_ENVELOPE_MS,
) -> np.ndarray:
    """Positive relevance smoothed into an envelope with a peak of one.

    Parameters
    ----------
    relevance : numpy.ndarray
        ``(n,)`` relevance per sample.
    sample_rate : int
        Samples per second of ``relevance``, Hz.
    envelope_ms : float
        Length of the Hann smoothing window, ms (0 keeps the raw positive relevance).

    Returns
    -------
    numpy.ndarray
        ``(n,)`` in [0, 1]; all zeros if no relevance is positive.
    """
    positive = np.clip(np.asarray(relevance, dtype=np.float64), 0, None)
    smooth = np.convolve(positive, smoothing_window(envelope_ms, sample_rate), mode="same")
    top = smooth.max() if smooth.size else 0.0
    return smooth / top if top > 0 else np.zeros_like(smooth)


def waveform_audible(
    window: np.ndarray, relevance: np.ndarray, *, envelope_ms: float = DEFAULT_ENVELOPE_MS
) -> np.ndarray:
    """Relevance x signal for AudioNet: ``(8000,)`` window times the relevance envelope, at 8 kHz."""
    window = np.asarray(window, dtype=np.float64)
    return window * relevance_envelope(
        relevance, sample_rate=pp.SAMPLE_RATE, envelope_ms=envelope_ms
    )


def stft(window: np.ndarray) -> np.ndarray:
    """Complex STFT with the paper's parameters, ``(228, 230)`` (bins, frames) for 8,000 samples."""
    _, _, spectrum = sps.stft(
        np.asarray(window, dtype=np.float64),
        fs=pp.SAMPLE_RATE,
        window="hann",
        nperseg=pp.NPERSEG,
        noverlap=pp.NOVERLAP,
    )
    return spectrum


def relevance_mask(
    relevance: np.ndarray, shape: tuple[int, int], *, envelope_ms: float = DEFAULT_ENVELOPE_MS
) -> np.ndarray:
    """Positive AlexNet relevance ``(227, 227)`` as a [0, 1] mask over all STFT bins ``shape``.

    The network sees frequency bins 0..226 and frames 2..228; the bins and frames it does
    not see take the value of their nearest seen neighbour. Smoothed over time with a
    Hann window of ``envelope_ms``.
    """
    positive = np.clip(np.asarray(relevance, dtype=np.float64), 0, None)
    first = pp.FRAME_SLICE.start
    bins = np.clip(np.arange(shape[0]), 0, positive.shape[0] - 1)
    frames = np.clip(np.arange(shape[1]) - first, 0, positive.shape[1] - 1)
    mask = positive[bins[:, None], frames[None, :]]
    kernel = smoothing_window(envelope_ms, pp.SAMPLE_RATE / pp.HOP)
    if kernel.size > 1:
        mask = np.apply_along_axis(np.convolve, 1, mask, kernel, mode="same")
    top = mask.max()
    return mask / top if top > 0 else np.zeros_like(mask)


def spectrogram_audible(
    window: np.ndarray, relevance: np.ndarray, *, envelope_ms: float = DEFAULT_ENVELOPE_MS
) -> np.ndarray:
    """Masked-STFT resynthesis for AlexNet: ``(8000,)`` at 8 kHz.

    Parameters
    ----------
    window : numpy.ndarray
        ``(8000,)`` model input window (before the dB conversion).
    relevance : numpy.ndarray
        ``(227, 227)`` relevance of the spectrogram input (frequency bins x kept frames).
    envelope_ms : float
        Time smoothing of the mask, ms.
    """
    window = np.asarray(window, dtype=np.float64)
    spectrum = stft(window)
    mask = relevance_mask(relevance, spectrum.shape, envelope_ms=envelope_ms)
    # Multiplying the complex STFT by a real mask scales the magnitude and keeps the phase.
    _, out = sps.istft(
        spectrum * mask, fs=pp.SAMPLE_RATE, window="hann", nperseg=pp.NPERSEG, noverlap=pp.NOVERLAP
    )
    out = out[: window.shape[0]]
    return np.pad(out, (0, window.shape[0] - out.shape[0]))


def resample(signal: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling to the playback rate (no-op when the rates agree)."""
    if from_rate == to_rate:
        return np.asarray(signal, dtype=np.float64)
    g = gcd(from_rate, to_rate)
    return sps.resample_poly(np.asarray(signal, dtype=np.float64), to_rate // g, from_rate // g)


def audible_heatmap(
    window: np.ndarray,
    relevance: np.ndarray,
    representation: str,
    *,
    envelope_ms: float = DEFAULT_ENVELOPE_MS,
) -> np.ndarray:
    """The audible heatmap of either model at 8 kHz, ``(8000,)``; see the module docstring."""
    if representation == "waveform":
        return waveform_audible(window, np.asarray(relevance).reshape(-1), envelope_ms=envelope_ms)
    if representation == "spectrogram":
        return spectrogram_audible(
            window, np.asarray(relevance).reshape(pp.N_FREQ, -1), envelope_ms=envelope_ms
        )
    raise ValueError(f"unknown representation {representation!r}")


def audible_params(representation: str, envelope_ms: float) -> dict[str, Any]:
    """How the audible heatmaps were made, for the manifest."""
    if representation == "waveform":
        how = "relevance x signal: positive relevance, Hann-smoothed envelope (peak 1) times the waveform"
    else:
        how = "positive relevance as a mask on the STFT magnitude (original phase), inverse STFT with the same parameters"
    if representation == "logmel":
        how = "mel-band relevance spread over its filter's STFT bins by weight; then " + how
    return {
        "representation": representation,
        "method": how,
        "envelope_ms": envelope_ms,
        "stft": pp.stft_params(),
    }
