"""Audible heatmaps, loudness matching and the audio checks that guard a bundle."""

from __future__ import annotations

import numpy as np
import pytest

from explainer import audible, audio_checks
from explainer import preprocessing as pp

N = pp.WINDOW


def speechlike(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(N) / pp.SAMPLE_RATE
    env = np.exp(-(((t - 0.5) / 0.15) ** 2))
    return (0.3 * env * (np.sin(2 * np.pi * 220 * t) + 0.3 * rng.standard_normal(N))).astype(
        np.float32
    )


def test_the_envelope_keeps_only_positive_relevance_and_peaks_at_one():
    rel = np.zeros(N)
    rel[1000:2000] = 3.0
    rel[5000:6000] = -5.0
    env = audible.relevance_envelope(rel, envelope_ms=20.0)
    assert env.max() == pytest.approx(1.0) and env.min() >= 0
    assert np.all(env[5100:5900] == 0)
    assert np.all(env[1100:1900] == pytest.approx(1.0))
    assert not audible.relevance_envelope(-np.ones(N)).any()


def test_the_envelope_is_smoothed_over_the_window_given_in_ms():
    rel = np.zeros(N)
    rel[4000] = 1.0
    taps = audible.smoothing_window(20.0, pp.SAMPLE_RATE).size
    assert taps == 160 and audible.smoothing_window(20.0, pp.SAMPLE_RATE).sum() == pytest.approx(
        1.0
    )
    spread = np.count_nonzero(audible.relevance_envelope(rel, envelope_ms=20.0))
    assert 150 <= spread <= 160
    assert np.count_nonzero(audible.relevance_envelope(rel, envelope_ms=0.0)) == 1


def test_the_waveform_audible_heatmap_is_relevance_times_signal():
    x = speechlike()
    rel = np.where(np.arange(N) < 4000, 1.0, -1.0) * np.abs(x)
    heard = audible.waveform_audible(x, rel, envelope_ms=10.0)
    env = audible.relevance_envelope(rel, envelope_ms=10.0)
    assert np.allclose(heard, x * env)
    assert np.abs(heard[4100:]).max() == 0  # negative relevance is silent
    assert np.abs(heard[:3900]).max() > 0.1


def test_a_full_mask_resynthesises_the_window_exactly():
    x = speechlike()
    out = audible.spectrogram_audible(x, np.ones((227, 227)), envelope_ms=20.0)
    assert out.shape == (N,)
    assert np.abs(out - x).max() < 1e-6


def test_the_spectrogram_mask_silences_what_had_no_positive_relevance():
    x = speechlike()
    rel = np.zeros((227, 227))
    frames_second_half = slice(int(0.5 * pp.SAMPLE_RATE / pp.HOP) - 2, 227)
    rel[:, frames_second_half] = 1.0
    out = audible.spectrogram_audible(x, rel, envelope_ms=10.0)
    first, second = out[: int(0.4 * N)], out[int(0.6 * N) :]
    assert audio_checks.rms(first) < 0.05 * audio_checks.rms(x[: int(0.4 * N)])
    assert np.allclose(second, x[int(0.6 * N) :], atol=1e-3)


def test_the_mask_covers_bins_and_frames_the_network_does_not_see_by_their_neighbours():
    rel = np.arange(227.0)[None, :].repeat(227, axis=0) + 1
    mask = audible.relevance_mask(rel, (228, 230), envelope_ms=0.0)
    assert mask.shape == (228, 230)
    assert np.array_equal(mask[227], mask[226]) and np.array_equal(mask[:, 0], mask[:, 2])
    assert np.array_equal(mask[:, 229], mask[:, 228])


def test_loudness_matching_gives_both_files_the_same_rms_within_the_peak_ceiling():
    x = speechlike()
    heard = x * (np.arange(N) > 4000)
    matched = audio_checks.match_loudness(x, heard)
    assert audio_checks.dbfs(audio_checks.rms(matched.original)) == pytest.approx(
        audio_checks.dbfs(audio_checks.rms(matched.audible)), abs=1e-9
    )
    ceiling = 10 ** (audio_checks.PEAK_CEILING_DBFS / 20)
    assert (
        audio_checks.peak(matched.original) <= ceiling + 1e-12
        and audio_checks.peak(matched.audible) <= ceiling + 1e-12
    )
    record = matched.record
    assert (
        record["method"] == "rms"
        and record["original"]["rms_dbfs"] == record["audible"]["rms_dbfs"]
    )


def test_a_peaky_heatmap_lowers_the_common_level_and_says_so():
    x = speechlike()
    spike = np.zeros(N)
    spike[4000:4010] = 1.0
    matched = audio_checks.match_loudness(x, spike)
    assert matched.record["limited_by_headroom"] is True
    assert matched.record["matched_rms_dbfs"] < audio_checks.TARGET_RMS_DBFS
    assert audio_checks.peak(matched.audible) == pytest.approx(
        10 ** (audio_checks.PEAK_CEILING_DBFS / 20)
    )
    relaxed = audio_checks.match_loudness(x, x)
    assert relaxed.record["limited_by_headroom"] is False
    assert relaxed.record["matched_rms_dbfs"] == pytest.approx(audio_checks.TARGET_RMS_DBFS)


@pytest.mark.parametrize(
    ("signal", "rate", "length", "problem"),
    [
        (np.full(N, np.nan), 8000, N, "NaN"),
        (np.ones(N) * 1.2, 8000, N, "clips"),
        (np.zeros(N), 8000, N, "silent"),
        (np.full(N, 1e-4), 8000, N, "silent"),
        (np.full(N, 0.1), 16000, N, "sample rate"),
        (np.full(N - 1, 0.1), 8000, N, "samples, expected"),
    ],
)
def test_the_checks_name_each_problem(signal, rate, length, problem):
    problems = audio_checks.check_signal(
        signal, rate, expected_rate=8000, expected_length=length, label="x"
    )
    assert any(problem in p for p in problems), problems


def test_a_good_signal_passes_every_check():
    assert (
        audio_checks.check_signal(
            speechlike(), 8000, expected_rate=8000, expected_length=N, label="x"
        )
        == []
    )


def test_playback_resampling_keeps_duration():
    x = speechlike()
    up = audible.resample(x, 8000, 16000)
    assert up.shape == (2 * N,)
    assert audio_checks.rms(up) == pytest.approx(audio_checks.rms(x), rel=0.02)
    assert audible.resample(x, 8000, 8000) is not x and np.array_equal(
        audible.resample(x, 8000, 8000), x
    )
