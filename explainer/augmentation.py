"""Training-time augmentation for real speech: audiomentations on the waveform, masks on spectrograms.

The "speech" augmentation (the ``speech`` preset) changes each training copy of a clip
with audiomentations, the maintained library: gain (a speaker nearer or farther from the
microphone), coloured background noise (white to brown, 10-40 dB SNR), a band-pass filter
(telephone and cheap microphones) and a pitch shift. Placement in the window and the
speed change are done before, by :mod:`explainer.preprocessing`. A spectrogram input
then gets SpecAugment-style masks: one band of frequency bins and one band of frames set
to the floor; our own few lines, because audiomentations masks frequencies only and
torchaudio is not a dependency.

audiomentations draws from Python's and NumPy's global generators; each copy seeds both
from the clip's own generator first, so a copy depends only on (seed, clip, placement).
"""

from __future__ import annotations

import random
from functools import cache

import numpy as np

AUGMENTATIONS = ("none", "speech")
SAMPLE_RATE = 8000  # Hz, the rate of every clip here
MAX_FREQ_MASK = 24  # bins (about 420 Hz)
MAX_TIME_MASK = 24  # frames (about 105 ms)


@cache
def speech_augmenter():  # noqa: ANN201 - audiomentations has no type stubs
    """The waveform transforms of the "speech" augmentation (built once per process)."""
    from audiomentations import AddColorNoise, BandPassFilter, Compose, Gain, PitchShift

    return Compose(
        [
            Gain(min_gain_db=-12.0, max_gain_db=6.0, p=0.5),
            AddColorNoise(min_snr_db=10.0, max_snr_db=40.0, p=0.5),
            BandPassFilter(
                min_center_freq=800.0,
                max_center_freq=1500.0,
                min_bandwidth_fraction=1.0,
                max_bandwidth_fraction=1.8,
                p=0.3,
            ),
            PitchShift(min_semitones=-2.0, max_semitones=2.0, p=0.3),
        ]
    )


def augment_waveform(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One augmented copy of a clip ``(n_samples,)`` at 8 kHz, float32, same length."""
    seed = int(rng.integers(0, 2**31 - 1))
    random.seed(seed)
    np.random.seed(seed)  # audiomentations' documented way to be reproducible
    out = speech_augmenter()(samples=np.asarray(audio, np.float32), sample_rate=SAMPLE_RATE)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def mask_spectrogram(spectrogram: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SpecAugment-style copy of a dB spectrogram ``(n_freq, n_frames)``: one frequency and
    one time band (each up to 24 wide, drawn with ``rng``) set to the spectrogram's floor."""
    out = np.array(spectrogram, copy=True)
    floor = out.min()
    for axis, widest in ((0, MAX_FREQ_MASK), (1, MAX_TIME_MASK)):
        width = int(rng.integers(0, widest + 1))
        start = int(rng.integers(0, out.shape[axis] - width + 1))
        index = [slice(None)] * 2
        index[axis] = slice(start, start + width)
        out[tuple(index)] = floor
    return out
