"""The paper's preprocessing: 8 kHz clips placed in one second, then each network's input.

A clip (at most 8,000 samples) is placed at a random offset inside an 8,000-sample zero
vector (the *window*). AudioNet reads the window divided by its 95th percentile plus
0.001; AlexNet reads a 227 x 227 magnitude STFT of the window in dB relative to its
maximum. Window position ``j`` holds clip sample ``j - offset`` throughout this package.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

SAMPLE_RATE = 8000  # Hz
WINDOW = 8000  # samples (one second)
NPERSEG = 455  # STFT segment length, samples
NOVERLAP = 420  # STFT overlap, samples
HOP = NPERSEG - NOVERLAP
N_FREQ = 227  # frequency bins kept: 0 .. 226
FRAME_SLICE = slice(2, -1)  # frames kept: 2 .. second to last, giving 227
# As librosa.amplitude_to_db(ref=np.max), which the original code used.
AMIN = 1e-5
TOP_DB = 80.0
NORM_PERCENTILE = 95.0
NORM_EPSILON = 0.001
# "spectrogram-above-floor" is AlexNet's input minus its minimum (its floor: -80 dB, or the
# absolute amin floor of a quiet clip), so silence is exactly 0 (then
# rules that multiply by the input give it no relevance); "logmel" is the third front end
# a researcher's own model may declare (explainer.logmel).
REPRESENTATIONS = ("waveform", "spectrogram", "spectrogram-above-floor", "logmel")


# What to do with a clip longer than the window (see :func:`place_in_window`).
LONG_CLIP_POLICIES = ("refuse", "centre", "random", "energy")


class ClipTooLongError(ValueError):
    """A clip longer than the one-second window, under the "refuse" policy."""


def place_in_window(
    audio: np.ndarray,
    *,
    offset: int | None = None,
    rng: np.random.Generator | None = None,
    long_clips: str = "refuse",
) -> tuple[np.ndarray, int]:
    """Place a clip inside an 8,000-sample zero vector.

    Parameters
    ----------
    audio
        Shape ``(n_samples,)`` at 8 kHz.
    offset
        Window position of the clip's first sample. If None, drawn uniformly from
        ``0 .. 8000 - n_samples`` with ``rng`` (required then).
    rng
        Source of the random offset (and of the "random" crop).
    long_clips
        For clips longer than the window: "refuse" raises :class:`ClipTooLongError`;
        "centre" keeps the centre second; "random" a second drawn with ``rng``;
        "energy" the second holding the most energy (the voiced part, even after long
        silence). The returned offset is then ``-start`` of the kept part.

    Returns
    -------
    window : numpy.ndarray
        Shape ``(8000,)`` float32.
    offset : int
        Window position ``j`` holds clip sample ``j - offset``.
    """
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    n = audio.shape[0]
    if n > WINDOW:
        start = crop_start(audio, long_clips, rng)
        return audio[start : start + WINDOW].copy(), -start
    if offset is None:
        if rng is None:
            raise ValueError("give either an offset or an rng to draw one")
        offset = int(rng.integers(0, WINDOW - n + 1))
    if not 0 <= offset <= WINDOW - n:
        raise ValueError(f"offset {offset} does not fit a clip of {n} samples in {WINDOW}")
    window = np.zeros(WINDOW, dtype=np.float32)
    window[offset : offset + n] = audio
    return window, int(offset)


def crop_start(audio: np.ndarray, policy: str, rng: np.random.Generator | None = None) -> int:
    """First kept sample of a clip ``(n_samples,)`` longer than the window, under ``policy``."""
    n = audio.shape[0]
    if policy == "refuse":
        raise ClipTooLongError(
            f"clip has {n} samples ({n / SAMPLE_RATE:.3f} s); the window holds {WINDOW} (1 s)"
        )
    if policy == "centre":
        return (n - WINDOW) // 2
    if policy == "random":
        if rng is None:
            raise ValueError("the random crop needs an rng")
        return int(rng.integers(0, n - WINDOW + 1))
    if policy == "energy":
        # The window start maximising the summed squared samples (a running sum), so a
        # digit after a long silence is kept whole.
        energy = np.concatenate([[0.0], np.cumsum(np.square(audio, dtype=np.float64))])
        totals = energy[WINDOW:] - energy[: n - WINDOW + 1]
        return int(np.argmax(totals))
    raise ValueError(f"unknown long-clip policy {policy!r}; choose one of {LONG_CLIP_POLICIES}")


def centred_offset(n_samples: int) -> int:
    """The offset that centres a clip of ``n_samples`` (<= the window) in the window."""
    return max(0, (WINDOW - n_samples) // 2)


def long_clip_policy(config: dict[str, Any]) -> str:
    """A run's long-clip policy; runs from before the policy existed recorded a crop flag."""
    if "long_clips" in config:
        return str(config["long_clips"])
    return "centre" if config.get("crop_long_clips") else "refuse"


def audionet_input(window: np.ndarray) -> np.ndarray:
    """AudioNet's input: the window divided by (its 95th percentile + 0.001).

    Parameters
    ----------
    window
        Shape ``(8000,)``, as returned by :func:`place_in_window`.

    Returns
    -------
    numpy.ndarray
        Shape ``(8000,)`` float32, dimensionless.
    """
    window = np.asarray(window, dtype=np.float64)
    _check_window(window)
    scale = np.percentile(window, NORM_PERCENTILE) + NORM_EPSILON
    return (window / scale).astype(np.float32)


def stft_magnitude(window: np.ndarray) -> np.ndarray:
    """Magnitude STFT as ``scipy.signal.stft`` computes it with the paper's parameters.

    Periodic Hann window, zero padding of ``NPERSEG // 2`` at both ends, then zeros up to
    a whole number of hops, each segment scaled by 1 / sum(window). Shape ``(228, 230)``
    for an 8,000-sample window: (frequency bins, frames).

    Written out rather than calling ``scipy.signal.stft`` (issue 19, measured with
    SciPy 1.17.1 on the 2-core build machine, one 8,000-sample window): the values
    agree to 7e-17 (``tests/explainer/test_preprocessing.py`` checks 1e-12), but
    ``np.abs(scipy.signal.stft(...)[2])`` took 3.4-3.7 ms of CPU against 2.8 ms here
    (5.2 ms against 2.9 ms wall on a quiet machine; ``ShortTimeFFT.stft``, 18 ms,
    also returns 12 more frames to be cut). Every spectrogram and log-mel input of
    training, prediction and bundles is made here, so the plain NumPy version stays.
    """
    x = np.asarray(window, dtype=np.float64)
    pad = NPERSEG // 2
    x = np.concatenate([np.zeros(pad), x, np.zeros(pad)])
    extra = (-(x.shape[0] - NPERSEG)) % HOP
    x = np.concatenate([x, np.zeros(extra)])
    frames = np.lib.stride_tricks.sliding_window_view(x, NPERSEG)[::HOP]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(NPERSEG) / NPERSEG)
    spectrum = np.fft.rfft(frames * hann, axis=1) / hann.sum()
    return np.abs(spectrum).T


def spectrogram_input(window: np.ndarray) -> np.ndarray:
    """AlexNet's input: 227 x 227 magnitude STFT in dB relative to its maximum.

    Parameters
    ----------
    window
        Shape ``(8000,)``, as returned by :func:`place_in_window`.

    Returns
    -------
    numpy.ndarray
        Shape ``(227, 227)`` float32 in dB (maximum 0, floor -80): rows are frequency bins
        0..226 (0 to about 3,982 Hz, 17.6 Hz apart), columns are STFT frames 2..228
        (hop 35 samples = 4.375 ms).
    """
    _check_window(np.asarray(window))
    magnitude = stft_magnitude(window)[:N_FREQ, FRAME_SLICE]
    return amplitude_to_db(magnitude).astype(np.float32)


def amplitude_to_db(magnitude: np.ndarray) -> np.ndarray:
    """20 log10(magnitude / max), floored at ``AMIN`` and at ``TOP_DB`` below the maximum."""
    db = 20.0 * np.log10(np.maximum(AMIN, magnitude))
    db -= 20.0 * np.log10(max(AMIN, float(np.max(magnitude))))
    return np.maximum(db, db.max() - TOP_DB)


def stft_params() -> dict[str, Any]:
    """The STFT and dB parameters, for metadata and for recomputing the spectrogram."""
    return {
        "fs": SAMPLE_RATE,
        "window": "hann",
        "nperseg": NPERSEG,
        "noverlap": NOVERLAP,
        "freq_bins": [0, N_FREQ - 1],
        "frames": [2, -1],
        "db_reference": "max",
        "amin": AMIN,
        "top_db": TOP_DB,
    }


def model_input(window: np.ndarray, representation: str) -> np.ndarray:
    """The input of the network reading ``representation`` (see :data:`REPRESENTATIONS`)."""
    if representation == "waveform":
        return audionet_input(window)
    if representation == "spectrogram":
        return spectrogram_input(window)
    if representation == "spectrogram-above-floor":
        # Above the input's own floor, not +80: a quiet clip's silence sits on the absolute
        # amin floor, which is less than 80 dB below its maximum.
        paper = spectrogram_input(window)
        return paper - paper.min()
    if representation == "logmel":
        from explainer.logmel import logmel_input

        return logmel_input(window)
    raise ValueError(f"unknown representation {representation!r}; choose one of {REPRESENTATIONS}")


def input_shape(representation: str) -> tuple[int, ...]:
    """Shape of one preprocessed input, without the channel axis."""
    if representation == "logmel":
        from explainer.logmel import N_MELS

        return (N_MELS, N_FREQ)
    return (WINDOW,) if representation == "waveform" else (N_FREQ, N_FREQ)


def preprocessing_params(*, seed: int, long_clips: str) -> dict[str, Any]:
    """Everything that determines a preprocessed input besides the audio itself."""
    return {
        "sample_rate": SAMPLE_RATE,
        "window": WINDOW,
        "placement": "uniform random offset per clip",
        "placement_seed": seed,
        "long_clips": long_clips,
        "audionet_normalisation": {"percentile": NORM_PERCENTILE, "epsilon": NORM_EPSILON},
        "stft": stft_params(),
    }


def clip_offset_rng(seed: int, relpath: str, placement: int = 0) -> np.random.Generator:
    """The generator that places one clip, so an offset does not depend on which other
    clips are processed or in what order."""
    name_key = int.from_bytes(hashlib.sha256(relpath.encode()).digest()[:8], "little")
    return np.random.default_rng([seed, name_key, placement])


def change_speed(audio: np.ndarray, rng: np.random.Generator, spread: float) -> np.ndarray:
    """Play ``audio`` faster or slower by a factor drawn from ``1 ± spread`` (augmentation).

    Band-limited resampling (FFT), so pitch and formants move together as with a longer
    or shorter vocal tract. A clip that would outgrow the window is returned unchanged.
    """
    from scipy.signal import resample

    factor = float(rng.uniform(1.0 - spread, 1.0 + spread))
    length = int(round(audio.shape[0] / factor))
    if length > WINDOW:
        return audio
    return resample(audio.astype(np.float64), length).astype(np.float32)


def _check_window(window: np.ndarray) -> None:
    if window.shape != (WINDOW,):
        raise ValueError(f"expected a window of shape ({WINDOW},), got {window.shape}")


def as_displayed(
    representation: str, window: np.ndarray, model_input: np.ndarray, relevance: np.ndarray
) -> tuple[str, np.ndarray, np.ndarray]:
    """The representation, input and relevance that heatmaps and audible heatmaps draw.

    Every spectrogram-like input is shown as AlexNet's dB spectrogram (below the maximum);
    a log-mel model's relevance is spread over the STFT bins first
    (:func:`explainer.logmel.relevance_on_stft_grid`).
    """
    if representation == "spectrogram-above-floor":
        return "spectrogram", spectrogram_input(window), relevance
    if representation == "logmel":
        from explainer.logmel import relevance_on_stft_grid

        return "spectrogram", spectrogram_input(window), relevance_on_stft_grid(relevance)
    return representation, model_input, relevance
