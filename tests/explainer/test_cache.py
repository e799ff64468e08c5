"""The preprocessing cache: reuse, invalidation, parallel equality, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from explainer import preprocessing as pp
from explainer.cache import preprocess
from explainer.data import DataError, load_recordings, read_audio


@pytest.fixture
def corpus(make_corpus, tools) -> Path:
    return make_corpus(
        {"01": tools.speaker_meta("male"), "02": tools.speaker_meta("female")}, digits=(0, 1, 2)
    )


def _entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir() if not p.name.startswith("."))


def test_a_second_call_reads_the_cache_instead_of_recomputing(corpus: Path, tmp_path: Path) -> None:
    table = load_recordings(corpus, progress=False)
    first = preprocess(list(table), "waveform", seed=1, cache_dir=tmp_path / "c", progress=False)
    second = preprocess(list(table), "waveform", seed=1, cache_dir=tmp_path / "c", progress=False)
    assert first.built and not second.built and first.key == second.key
    assert isinstance(second.inputs, np.memmap) and not second.inputs.flags.writeable
    np.testing.assert_array_equal(first.inputs, second.inputs)
    assert len(_entries(tmp_path / "c")) == 1


def test_cached_inputs_are_the_preprocessing_of_each_clip(corpus: Path, tmp_path: Path) -> None:
    table = load_recordings(corpus, progress=False)
    result = preprocess(
        list(table), "spectrogram", seed=4, placements=2, cache_dir=tmp_path / "c", progress=False
    )
    assert result.inputs.shape == (len(table), 2, 227, 227)
    recording = table[3]
    for placement in range(2):
        window, offset = pp.place_in_window(
            read_audio(recording.path), rng=pp.clip_offset_rng(4, recording.relpath, placement)
        )
        assert result.offsets[3, placement] == offset
        np.testing.assert_array_equal(
            result.inputs[3, placement], pp.spectrogram_input(window).astype(np.float16)
        )


def test_changing_a_source_file_invalidates_the_entry(corpus: Path, tmp_path: Path, tools) -> None:
    before = preprocess(
        list(load_recordings(corpus, progress=False)),
        "waveform",
        seed=0,
        cache_dir=tmp_path / "c",
        progress=False,
    )
    tools.write_wav(
        corpus / "02" / "1_02_0.wav", tools.tone(7, 7, 7, rate=48000, seconds=0.3), 48000
    )
    table = load_recordings(corpus, progress=False)
    after = preprocess(list(table), "waveform", seed=0, cache_dir=tmp_path / "c", progress=False)
    assert after.built and after.key != before.key
    changed = [r.relpath for r in table].index("02/1_02_0.wav")
    assert not np.array_equal(after.inputs[changed], before.inputs[changed])


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 1},
        {"representation": "spectrogram"},
        {"placements": 2},
        {"long_clips": "energy"},
        {"speed_perturbation": 0.1},
    ],
)
def test_changing_a_parameter_invalidates_the_entry(
    corpus: Path, tmp_path: Path, change: dict
) -> None:
    recordings = list(load_recordings(corpus, progress=False))
    base = {"representation": "waveform", "seed": 0, "placements": 1, "long_clips": "refuse"}
    first = preprocess(recordings, cache_dir=tmp_path / "c", progress=False, **base)
    second = preprocess(recordings, cache_dir=tmp_path / "c", progress=False, **(base | change))
    assert second.built and second.key != first.key


def test_a_different_selection_of_recordings_is_a_different_entry(
    corpus: Path, tmp_path: Path
) -> None:
    recordings = list(load_recordings(corpus, progress=False))
    first = preprocess(recordings, "waveform", seed=0, cache_dir=tmp_path / "c", progress=False)
    second = preprocess(
        recordings[:-1], "waveform", seed=0, cache_dir=tmp_path / "c", progress=False
    )
    assert second.built and second.key != first.key
    np.testing.assert_array_equal(second.inputs, first.inputs[:-1])


def test_two_processes_compute_the_same_arrays_as_one(corpus: Path, tmp_path: Path) -> None:
    recordings = list(load_recordings(corpus, progress=False)) * 3  # more than one chunk
    serial = preprocess(recordings, "waveform", seed=2, cache_dir=None, progress=False)
    parallel = preprocess(
        recordings, "waveform", seed=2, cache_dir=tmp_path / "c", workers=2, progress=False
    )
    assert serial.key == parallel.key
    np.testing.assert_array_equal(serial.inputs, parallel.inputs)
    np.testing.assert_array_equal(serial.offsets, parallel.offsets)


def test_a_failed_build_leaves_no_entry_behind(make_corpus, tools, tmp_path: Path) -> None:
    root = make_corpus({"01": tools.speaker_meta("male")}, seconds=1.2)
    recordings = list(load_recordings(root, progress=False))
    with pytest.raises(DataError, match=r"0_01_0\.wav.*--long-clips centre"):
        preprocess(
            recordings, "waveform", seed=0, cache_dir=tmp_path / "c", workers=2, progress=False
        )
    assert list((tmp_path / "c").iterdir()) == []
    cropped = preprocess(
        recordings,
        "waveform",
        seed=0,
        long_clips="centre",
        cache_dir=tmp_path / "c",
        progress=False,
    )
    assert cropped.inputs.shape == (4, 1, 8000) and (cropped.offsets < 0).all()


def test_an_incomplete_entry_is_rebuilt(corpus: Path, tmp_path: Path) -> None:
    recordings = list(load_recordings(corpus, progress=False))
    first = preprocess(recordings, "waveform", seed=0, cache_dir=tmp_path / "c", progress=False)
    (first.path / "index.json").unlink()
    again = preprocess(recordings, "waveform", seed=0, cache_dir=tmp_path / "c", progress=False)
    assert again.built
    np.testing.assert_array_equal(first.inputs, again.inputs)


def test_speed_perturbed_copies_differ_from_the_plain_placement(corpus: Path) -> None:
    recordings = list(load_recordings(corpus, progress=False))
    plain = preprocess(recordings, "waveform", seed=0, placements=2, cache_dir=None, progress=False)
    perturbed = preprocess(
        recordings,
        "waveform",
        seed=0,
        placements=2,
        speed_perturbation=0.1,
        cache_dir=None,
        progress=False,
    )
    assert not np.array_equal(plain.inputs, perturbed.inputs)
    # The count of non-zero samples is the clip's length after the speed change.
    lengths = np.count_nonzero(perturbed.inputs[:, :, :], axis=-1)
    assert len(np.unique(lengths)) > 1


def test_inputs_are_stored_as_float16_with_and_without_the_cache(
    corpus: Path, tmp_path: Path
) -> None:
    recordings = list(load_recordings(corpus, progress=False))
    cached = preprocess(recordings, "spectrogram", seed=0, cache_dir=tmp_path / "c", progress=False)
    memory = preprocess(recordings, "spectrogram", seed=0, cache_dir=None, progress=False)
    assert cached.inputs.dtype == np.float16 == memory.inputs.dtype
    np.testing.assert_array_equal(cached.inputs, memory.inputs)
    size = (cached.path / "inputs.npy").stat().st_size
    assert size < len(recordings) * 227 * 227 * 2 + 1000  # two bytes per value


def test_the_least_recently_used_entries_go_when_the_cache_outgrows_its_limit(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recordings = list(load_recordings(corpus, progress=False))
    cache = tmp_path / "c"
    first = preprocess(recordings, "waveform", seed=0, cache_dir=cache, progress=False)
    second = preprocess(recordings, "waveform", seed=1, cache_dir=cache, progress=False)
    preprocess(recordings, "waveform", seed=0, cache_dir=cache, progress=False)  # first used again
    entry_bytes = sum(f.stat().st_size for f in first.path.iterdir())
    monkeypatch.setenv("HEARXAI_CACHE_MAX_GB", str(2.5 * entry_bytes / 1e9))
    third = preprocess(recordings, "waveform", seed=2, cache_dir=cache, progress=False)
    assert _entries(cache) == sorted([first.path, third.path])
    assert not second.path.exists()


def test_cache_clear_empties_the_cache_and_info_reports_its_size(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from explainer.cli import main

    recordings = list(load_recordings(corpus, progress=False))
    preprocess(recordings, "waveform", seed=0, cache_dir=tmp_path / "c", progress=False)
    assert main(["cache", "info", "--cache-dir", str(tmp_path / "c")]) == 0
    assert "1 entries" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache-dir", str(tmp_path / "c")]) == 0
    assert "deleted 1 entries" in capsys.readouterr().out and _entries(tmp_path / "c") == []
