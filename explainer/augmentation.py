"""Training-time augmentation for real speech: audiomentations on the waveform, masks on spectrograms.

The "speech" augmentation (AudioNet's ``speech`` preset) changes each training copy of a
clip with audiomentations, the maintained library: gain (a speaker nearer or farther from
the microphone), coloured background noise (white to brown, 10-40 dB SNR), a band-pass
filter (telephone and cheap microphones) and a pitch shift of up to 2 semitones. Placement
in the window and the speed change are done before, by :mod:`explainer.preprocessing`. A
spectrogram input then gets SpecAugment-style masks: one band of frequency bins and one
band of frames set to the floor; our own few lines, because audiomentations masks
frequencies only and torchaudio is not a dependency.

"speech-wide" (AlexNet's ``speech`` preset) shifts pitch by up to 4 semitones more often,
adds a peaking and a high-shelf filter of up to 9 dB (another voice's or microphone's
spectral colour and tilt) and masks two frequency and two time bands.

audiomentations draws from Python's and NumPy's global generators; each copy seeds both
from the clip's own generator first, so a copy depends only on (seed, clip, placement).
"""

from __future__ import annotations

import random
from functools import cache

import numpy as np

AUGMENTATIONS = ("none", "speech", "speech-wide")
SAMPLE_RATE = 8000  # Hz, the rate of every clip here
MAX_FREQ_MASK = 24  # bins (about 420 Hz)
MAX_TIME_MASK = 24  # frames (about 105 ms)
# Frequency and time masks per spectrogram, by augmentation.
MASKS = {"speech": 1, "speech-wide": 2}


@cache
def speech_augmenter(kind: str = "speech"):  # noqa: ANN201 - audiomentations has no type stubs
    """The waveform transforms of a speech augmentation (built once per process and kind)."""
    from audiomentations import (
        AddColorNoise,
        BandPassFilter,
        Compose,
        Gain,
        HighShelfFilter,
        PeakingFilter,
        PitchShift,
    )

    wide = kind == "speech-wide"
    transforms = [
        Gain(min_gain_db=-12.0, max_gain_db=6.0, p=0.5),
        AddColorNoise(min_snr_db=10.0, max_snr_db=40.0, p=0.5),
        BandPassFilter(
            min_center_freq=800.0,
            max_center_freq=1500.0,
            min_bandwidth_fraction=1.0,
            max_bandwidth_fraction=1.8,
            p=0.3,
        ),
        PitchShift(min_semitones=-4.0, max_semitones=4.0, p=0.5)
        if wide
        else PitchShift(min_semitones=-2.0, max_semitones=2.0, p=0.3),
    ]
    if wide:
        transforms += [
            PeakingFilter(
                min_center_freq=300.0,
                max_center_freq=3500.0,
                min_gain_db=-9.0,
                max_gain_db=9.0,
                p=0.5,
            ),
            HighShelfFilter(
                min_center_freq=1000.0,
                max_center_freq=3000.0,
                min_gain_db=-9.0,
                max_gain_db=9.0,
                p=0.5,
            ),
        ]
    return Compose(transforms)


def augment_waveform(
    audio: np.ndarray, rng: np.random.Generator, kind: str = "speech"
) -> np.ndarray:
    """One augmented copy of a clip ``(n_samples,)`` at 8 kHz, float32, same length."""
    seed = int(rng.integers(0, 2**31 - 1))
    random.seed(seed)
    np.random.seed(seed)  # audiomentations' documented way to be reproducible
    out = speech_augmenter(kind)(samples=np.asarray(audio, np.float32), sample_rate=SAMPLE_RATE)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def mask_spectrogram(
    spectrogram: np.ndarray, rng: np.random.Generator, kind: str = "speech"
) -> np.ndarray:
    """SpecAugment-style copy of a dB spectrogram ``(n_freq, n_frames)``: ``MASKS[kind]``
    frequency and time bands (each up to 24 wide, drawn with ``rng``) set to its floor."""
    out = np.array(spectrogram, copy=True)
    floor = out.min()
    for axis, widest in ((0, MAX_FREQ_MASK), (1, MAX_TIME_MASK)) * MASKS[kind]:
        width = int(rng.integers(0, widest + 1))
        start = int(rng.integers(0, out.shape[axis] - width + 1))
        index = [slice(None)] * 2
        index[axis] = slice(start, start + width)
        out[tuple(index)] = floor
    return out
