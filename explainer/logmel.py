"""The log-mel front end a researcher's own model may declare (``"input": "logmel"``).

It is built on the AlexNet spectrogram's STFT (8 kHz, 455-sample Hann window, hop 35,
frames 2 .. second to last), so both share one time axis: column ``t`` of either is the
same 4.375 ms frame. Mel filters come from librosa (Slaney scale and area
normalisation, its defaults). Values are dB *above the floor* (80 dB below the
window's loudest band), so silence is exactly zero: rules that multiply by the input
(LRP, gradient x input) then give silence no relevance.

Heatmaps and audible heatmaps are drawn on the STFT grid: :func:`relevance_on_stft_grid`
spreads each mel band's relevance over the STFT bins of its filter, in proportion to
the filter's weights, so the total relevance is unchanged.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from explainer import preprocessing as pp

N_MELS = 64
TOP_DB = 80.0


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """Mel filterbank ``(64, 228)`` over the STFT's frequency bins (0 .. 4,000 Hz)."""
    import librosa

    return librosa.filters.mel(sr=pp.SAMPLE_RATE, n_fft=pp.NPERSEG, n_mels=N_MELS).astype(
        np.float64
    )


def logmel_input(window: np.ndarray) -> np.ndarray:
    """Log-mel input of a window.

    Parameters
    ----------
    window
        Shape ``(8000,)`` at 8 kHz, as returned by :func:`explainer.preprocessing.place_in_window`.

    Returns
    -------
    numpy.ndarray
        Shape ``(64, 227)`` float32: mel bands (low to high) by STFT frames, in dB above
        the floor (0 = silence or 80 dB below the loudest band, 80 = the loudest band).
    """
    window = np.asarray(window)
    if window.shape != (pp.WINDOW,):
        raise ValueError(f"expected a window of shape ({pp.WINDOW},), got {window.shape}")
    mel = mel_filters() @ np.square(pp.stft_magnitude(window)[:, pp.FRAME_SLICE])
    if not mel.max() > 0.0:  # an all-silent window
        return np.zeros(mel.shape, np.float32)
    # No absolute floor (unlike the AlexNet input's amin): digital silence must land on
    # the relative floor, whatever the recording's level.
    db = 10.0 * np.log10(np.maximum(mel, mel.max() * 10.0 ** (-TOP_DB / 10.0)))
    return np.maximum(db - db.max() + TOP_DB, 0.0).astype(np.float32)  # rounding below 0


def relevance_on_stft_grid(relevance: np.ndarray) -> np.ndarray:
    """Mel-band relevance ``(64, 227)`` spread over the STFT grid ``(227, 227)``.

    Each band's relevance goes to the bins 0 .. 226 of its filter in proportion to the
    filter's weights there, so each frame's total relevance is kept.
    """
    weights = mel_filters()[:, : pp.N_FREQ]
    share = weights / weights.sum(axis=1, keepdims=True)
    return share.T @ np.asarray(relevance, dtype=np.float64).reshape(N_MELS, -1)
