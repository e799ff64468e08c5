"""The paper's preprocessing, checked against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from explainer import preprocessing as pp


def _speech_like_window(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(4800) / 8000
    clip = np.sin(2 * np.pi * (150 + 400 * t) * t) * np.hanning(
        t.size
    ) + 0.01 * rng.standard_normal(t.size)
    window, _ = pp.place_in_window(clip.astype(np.float32), rng=rng)
    return window


def _independent_spectrogram(window: np.ndarray) -> np.ndarray:
    """scipy's STFT with the paper's parameters, then librosa's amplitude_to_db(ref=max) by hand."""
    _, _, zxx = signal.stft(
        window.astype(np.float64), fs=8000, window="hann", nperseg=455, noverlap=420
    )
    magnitude = np.abs(zxx[0:227, 2:-1])
    power_db = 10 * np.log10(np.maximum(1e-10, magnitude**2)) - 10 * np.log10(
        max(1e-10, magnitude.max() ** 2)
    )
    return np.maximum(power_db, power_db.max() - 80.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_spectrogram_matches_scipys_stft_to_1e_5(seed: int) -> None:
    window = _speech_like_window(seed)
    ours = pp.spectrogram_input(window)
    assert ours.shape == (227, 227) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, _independent_spectrogram(window), atol=1e-5, rtol=0)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_magnitude_stft_equals_scipys_stft_to_1e_12(seed: int) -> None:
    window = _speech_like_window(seed)
    _, _, zxx = signal.stft(
        window.astype(np.float64), fs=8000, window="hann", nperseg=455, noverlap=420
    )
    np.testing.assert_allclose(pp.stft_magnitude(window), np.abs(zxx), atol=1e-12, rtol=0)


def test_the_spectrogram_is_in_db_below_its_maximum_with_an_80_db_floor() -> None:
    spec = pp.spectrogram_input(_speech_like_window())
    assert spec.max() == 0.0 and spec.min() >= -80.0
    # Silence in the window reaches the floor: the clip does not fill the second.
    assert spec.min() == pytest.approx(-80.0)


def test_the_spectrogram_puts_a_tone_in_its_frequency_row() -> None:
    t = np.arange(8000) / 8000
    spec = pp.spectrogram_input((0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32))
    # Bin spacing is 8000 / 455 Hz.
    assert int(np.median(spec.argmax(axis=0))) == round(1000 / (8000 / 455))


def test_the_audionet_input_divides_by_the_95th_percentile_plus_0_001() -> None:
    # 8,000 samples 0, 1/7999, ..., 1: the 95th percentile is 0.95 exactly.
    window = np.linspace(0.0, 1.0, 8000, dtype=np.float32)
    out = pp.audionet_input(window)
    assert out.shape == (8000,) and out.dtype == np.float32
    np.testing.assert_allclose(out, window / (0.95 + 0.001), rtol=1e-6)


def test_a_clip_is_placed_intact_at_the_returned_offset() -> None:
    clip = np.arange(1, 3001, dtype=np.float32)
    window, offset = pp.place_in_window(clip, rng=np.random.default_rng(5))
    assert window.shape == (8000,) and 0 <= offset <= 5000
    np.testing.assert_array_equal(window[offset : offset + 3000], clip)
    assert np.count_nonzero(window) == 3000


def test_placement_is_uniform_over_every_possible_offset() -> None:
    rng = np.random.default_rng(0)
    clip = np.ones(7995, dtype=np.float32)
    offsets = [pp.place_in_window(clip, rng=rng)[1] for _ in range(1200)]
    counts = np.bincount(offsets, minlength=6)
    assert counts.size == 6 and counts.min() > 150  # expected 200 each, offsets 0..5


def test_placement_with_a_given_offset_ignores_the_generator() -> None:
    window, offset = pp.place_in_window(np.ones(10, np.float32), offset=7990)
    assert offset == 7990 and window[7990:].sum() == 10
    with pytest.raises(ValueError, match="does not fit"):
        pp.place_in_window(np.ones(10, np.float32), offset=7991)


def test_a_clip_longer_than_a_second_is_an_error_under_the_refuse_policy() -> None:
    clip = np.arange(9000, dtype=np.float32)
    with pytest.raises(pp.ClipTooLongError, match="9000 samples"):
        pp.place_in_window(clip, rng=np.random.default_rng(0))
    window, offset = pp.place_in_window(clip, long_clips="centre")
    assert offset == -500
    np.testing.assert_array_equal(window, clip[500:8500])


def test_the_energy_crop_keeps_a_word_that_follows_a_long_silence() -> None:
    # 2.5 s of near silence, then a 0.4 s tone: the centre crop misses the tone entirely.
    rng = np.random.default_rng(0)
    clip = (rng.standard_normal(23200) * 1e-4).astype(np.float32)
    clip[20000:23200] += np.sin(np.arange(3200) * 0.3).astype(np.float32)
    centre, _ = pp.place_in_window(clip, long_clips="centre")
    energy, offset = pp.place_in_window(clip, long_clips="energy")
    assert np.abs(centre).max() < 0.01
    assert -offset <= 20000 and -offset + 8000 >= 23200
    np.testing.assert_array_equal(energy, clip[-offset : -offset + 8000])


def test_the_random_crop_is_reproducible_from_its_seed_and_stays_inside_the_clip() -> None:
    clip = np.arange(12000, dtype=np.float32)
    starts = {
        -pp.place_in_window(clip, rng=np.random.default_rng(s), long_clips="random")[1]
        for s in range(20)
    }
    assert len(starts) > 1 and min(starts) >= 0 and max(starts) <= 4000
    again = pp.place_in_window(clip, rng=np.random.default_rng(3), long_clips="random")[1]
    assert again == pp.place_in_window(clip, rng=np.random.default_rng(3), long_clips="random")[1]


def test_each_clips_offset_depends_only_on_seed_name_and_placement() -> None:
    first = pp.clip_offset_rng(3, "01/0_01_0.wav").integers(0, 1000, 5)
    assert np.array_equal(first, pp.clip_offset_rng(3, "01/0_01_0.wav").integers(0, 1000, 5))
    assert not np.array_equal(first, pp.clip_offset_rng(4, "01/0_01_0.wav").integers(0, 1000, 5))
    assert not np.array_equal(first, pp.clip_offset_rng(3, "01/0_01_1.wav").integers(0, 1000, 5))
    assert not np.array_equal(first, pp.clip_offset_rng(3, "01/0_01_0.wav", 1).integers(0, 1000, 5))


def test_stft_params_describe_the_papers_transform() -> None:
    params = pp.stft_params()
    assert (params["fs"], params["window"], params["nperseg"], params["noverlap"]) == (
        8000,
        "hann",
        455,
        420,
    )
    assert pp.input_shape("spectrogram") == (227, 227) and pp.input_shape("waveform") == (8000,)


def test_it_rejects_a_window_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="shape"):
        pp.spectrogram_input(np.zeros(7999, np.float32))
    with pytest.raises(ValueError, match="unknown representation"):
        pp.model_input(np.zeros(8000, np.float32), "mfcc")


def test_a_speed_change_moves_the_pitch_and_the_length_together() -> None:
    t = np.arange(4000) / 8000
    clip = np.sin(2 * np.pi * 400.0 * t).astype(np.float32)
    rng = np.random.default_rng(0)
    factor = np.random.default_rng(0).uniform(0.8, 1.2)
    faster = pp.change_speed(clip, rng, 0.2)
    assert faster.dtype == np.float32 and faster.size == round(4000 / factor)
    spectrum = np.abs(np.fft.rfft(faster * np.hanning(faster.size)))
    peak = np.fft.rfftfreq(faster.size, 1 / 8000)[spectrum.argmax()]
    assert peak == pytest.approx(400.0 * factor, rel=0.01)


def test_a_speed_change_never_outgrows_the_window() -> None:
    clip = np.ones(7900, np.float32)
    rng = np.random.default_rng(1)
    assert all(pp.change_speed(clip, rng, 0.3).size <= 8000 for _ in range(20))


@pytest.mark.parametrize("level", [1.0, 0.001])
def test_the_input_above_the_floor_has_silence_exactly_zero_however_quiet_the_clip(
    level: float,
) -> None:
    window = _speech_like_window() * level
    paper = pp.model_input(window, "spectrogram")
    above = pp.model_input(window, "spectrogram-above-floor")
    np.testing.assert_allclose(above, paper - paper.min(), atol=1e-4)
    # A quiet clip's silence is on the absolute amin floor, less than 80 dB down.
    assert (paper.min() == -80.0) == (level == 1.0)
    assert above.min() == 0.0 and (above == 0.0).sum() == (paper == paper.min()).sum() > 0
    shown, shown_input, relevance = pp.as_displayed("spectrogram-above-floor", window, above, paper)
    assert shown == "spectrogram" and relevance is paper
    np.testing.assert_allclose(shown_input, paper, atol=1e-4)


def test_the_logmel_input_has_silence_at_zero_and_relevance_keeps_its_total_on_the_stft_grid() -> (
    None
):
    from explainer.logmel import logmel_input, relevance_on_stft_grid

    window = _speech_like_window()
    mel = logmel_input(window)
    assert mel.shape == (64, 227) and mel.min() == 0.0 and mel.max() == pytest.approx(80.0)
    assert not logmel_input(np.zeros(8000, np.float32)).any()
    # A clip placed after 2,000 samples of digital silence: the frames that see only
    # silence (centres up to 2000 - 228 samples, frame columns 0..48) hold exactly 0.
    late = np.zeros(8000, np.float32)
    late[2000:6000] = window[window != 0][:4000]
    assert (logmel_input(late)[:, :49] == 0).all() and logmel_input(late)[:, 60].max() > 0
    relevance = np.random.default_rng(1).standard_normal((64, 227))
    grid = relevance_on_stft_grid(relevance)
    assert grid.shape == (227, 227)
    np.testing.assert_allclose(grid.sum(0), relevance.sum(0), rtol=1e-9, atol=1e-9)
    kind, shown_input, shown = pp.as_displayed("logmel", window, mel, relevance)
    assert kind == "spectrogram" and shown_input.shape == (227, 227) and shown is not relevance
