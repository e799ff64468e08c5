"""What a removed region is replaced by: zero, noise at the clip's level, or the mean spectrum.

Each is defined in the network's input space, per clip:

- ``zero``: silence, i.e. 0 for a waveform and the dB floor (-80 dB re the clip's
  maximum, the value of a zero magnitude) for a spectrogram;
- ``noise``: a waveform gets white Gaussian noise with the RMS of the clip's non-silent
  samples; a spectrogram gets Gaussian values with the mean and standard deviation of
  the clip's dB bins (clipped to its dB range);
- ``mean``: a spectrogram gets the clip's mean spectrum (each frequency bin's mean dB
  over time); a waveform gets a phase-randomised copy of itself (the same magnitude
  spectrum, its time structure destroyed).
"""

from __future__ import annotations

import numpy as np

from explainer import preprocessing as pp

REPLACEMENTS = ("zero", "noise", "mean")


def replacement_for(
    model_input: np.ndarray, representation: str, kind: str, rng: np.random.Generator
) -> np.ndarray:
    """The replacement values for one clip, shaped like ``model_input`` (``(8000,)`` or ``(227, 227)``)."""
    x = np.asarray(model_input, dtype=np.float32)
    if kind not in REPLACEMENTS:
        raise ValueError(f"unknown replacement {kind!r}; choose one of {', '.join(REPLACEMENTS)}")
    if representation == "waveform":
        return _waveform(x, kind, rng)
    return _spectrogram(x, kind, rng)


def _waveform(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "zero":
        return np.zeros_like(x)
    if kind == "noise":
        voiced = x[x != 0]
        level = float(np.sqrt(np.mean(np.square(voiced, dtype=np.float64)))) if voiced.size else 0.0
        return rng.normal(0.0, level, size=x.shape).astype(np.float32)
    spectrum = np.fft.rfft(x.astype(np.float64))
    phases = np.exp(2j * np.pi * rng.random(spectrum.shape))
    phases[0] = 1.0  # keep the mean (DC) real
    return np.fft.irfft(np.abs(spectrum) * phases, n=x.shape[0]).astype(np.float32)


def _spectrogram(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "zero":
        return np.full_like(x, -pp.TOP_DB)
    if kind == "noise":
        noise = rng.normal(float(x.mean()), float(x.std()), size=x.shape)
        return np.clip(noise, x.min(), x.max()).astype(np.float32)
    return np.broadcast_to(x.mean(axis=1, keepdims=True), x.shape).astype(np.float32)
