"""The AudioMNIST loader: real-world quirks it survives and defects it names."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from explainer.data import DataError, load_recordings, normalise_room, parse_age, read_audio


@pytest.fixture
def quirky_corpus(make_corpus, tools) -> Path:
    """Every survivable quirk of the real dataset at once."""
    root = make_corpus(
        {
            "02": tools.speaker_meta("male", age=28, room="VR-Room"),
            "12": tools.speaker_meta("female", age="25", room="vr-room"),
            "36": tools.speaker_meta("female", age=22, room="VR-room"),
            "47": tools.speaker_meta("female", age="1234", room="vr-romm"),
        },
        # An older metadata copy's leftovers: speakers listed without any recordings.
        meta={"59": tools.speaker_meta("female", age=30, room="Kino")},
        digits=(3,),
        takes=(19, 28),
    )
    # Speaker 36's duplicated takes: 3_20 repeats 3_19, 3_29 repeats 3_28.
    shutil.copy(root / "36" / "3_36_19.wav", root / "36" / "3_36_20.wav")
    audio, rate = sf.read(root / "36" / "3_36_28.wav", dtype="int16")
    sf.write(root / "36" / "3_36_29.wav", audio, rate, subtype="PCM_16", format="WAV")
    return root


def test_it_loads_every_recording_with_its_speakers_metadata(quirky_corpus: Path) -> None:
    table = load_recordings(quirky_corpus, progress=False)
    assert len(table) == 10
    first = table[0]
    assert (first.relpath, first.speaker, first.digit, first.take) == (
        "02/3_02_19.wav",
        "02",
        3,
        19,
    )
    assert (first.sex, first.age, first.accent, first.native_speaker) == (
        "male",
        28,
        "German",
        False,
    )
    assert first.sample_rate == 48000
    assert first.duration_s == pytest.approx(0.4)
    assert first.path.is_absolute() and first.path.is_file()
    assert table.speakers() == ["02", "12", "36", "47"]


def test_it_reads_ages_given_as_numbers_or_strings(quirky_corpus: Path) -> None:
    table = load_recordings(quirky_corpus, progress=False)
    ages = {r.speaker: r.age for r in table}
    assert ages["02"] == 28 and ages["12"] == 25


def test_it_records_the_placeholder_age_as_unknown_and_says_so(quirky_corpus: Path) -> None:
    table = load_recordings(quirky_corpus, progress=False)
    assert {r.age for r in table if r.speaker == "47"} == {None}
    assert any("speaker 47" in note and "1234" in note for note in table.notes)


def test_it_spells_every_vr_room_the_same_way(quirky_corpus: Path) -> None:
    table = load_recordings(quirky_corpus, progress=False)
    assert {r.recording_room for r in table} == {"vr-room"}
    assert normalise_room("Kino") == "kino"


def test_it_reports_takes_whose_audio_is_identical(quirky_corpus: Path) -> None:
    table = load_recordings(quirky_corpus, progress=False)
    assert set(table.duplicates) == {
        ("36/3_36_19.wav", "36/3_36_20.wav"),
        ("36/3_36_28.wav", "36/3_36_29.wav"),
    }


def test_it_can_drop_all_but_the_first_of_identical_takes(quirky_corpus: Path) -> None:
    table = load_recordings(quirky_corpus, drop_duplicates=True, progress=False)
    relpaths = {r.relpath for r in table}
    assert "36/3_36_20.wav" not in relpaths and "36/3_36_19.wav" in relpaths
    assert len(table) == 8


def test_it_rejects_a_speaker_missing_from_the_metadata_naming_the_file(make_corpus, tools) -> None:
    root = make_corpus({"01": tools.speaker_meta("male"), "17": None})
    with pytest.raises(DataError) as info:
        load_recordings(root, progress=False)
    message = str(info.value)
    assert "17" in message and "audioMNIST_meta.txt" in message and "0_17_0.wav" in message


def test_it_can_leave_out_speakers_missing_from_older_metadata(make_corpus, tools) -> None:
    root = make_corpus({"01": tools.speaker_meta("male"), "17": None, "22": None, "34": None})
    table = load_recordings(root, missing_metadata="skip", progress=False)
    assert table.speakers() == ["01"]
    assert any("17, 22, 34" in note for note in table.notes)


@pytest.mark.parametrize(
    ("defect", "expected"),
    [
        ("corrupt", "cannot read as WAV"),
        ("stereo", "2 channels"),
        ("empty", "no audio samples"),
        ("zero_bytes", "is empty (0 bytes)"),
        ("misnamed", "does not match D_NN_K.wav"),
        ("wrong_folder", "is in folder 01"),
    ],
)
def test_it_rejects_an_unusable_recording_naming_the_file(
    make_corpus, defect: str, expected: str, tools
) -> None:
    root = make_corpus({"01": tools.speaker_meta("male")})
    bad = _add_defect(root / "01", defect, tools)
    with pytest.raises(DataError) as info:
        load_recordings(root, progress=False)
    assert str(bad) in str(info.value) and expected in str(info.value)
    assert "\n" not in str(info.value)


def _add_defect(folder: Path, defect: str, tools: object) -> Path:
    if defect == "corrupt":
        path = folder / "5_01_0.wav"
        path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage")
    elif defect == "stereo":
        path = folder / "5_01_0.wav"
        sf.write(path, np.zeros((800, 2), np.float32), 48000)
    elif defect == "empty":
        path = folder / "5_01_0.wav"
        sf.write(path, np.zeros(0, np.float32), 48000)
    elif defect == "zero_bytes":
        path = folder / "5_01_0.wav"
        path.write_bytes(b"")
    elif defect == "misnamed":
        path = tools.write_wav(
            folder / "five_01_0.wav", tools.tone(5, 1, 0, rate=48000, seconds=0.3), 48000
        )
    else:
        path = tools.write_wav(
            folder / "5_02_0.wav", tools.tone(5, 2, 0, rate=48000, seconds=0.3), 48000
        )
    return path


def test_it_lists_every_defect_when_there_are_several(make_corpus, tools) -> None:
    root = make_corpus({"01": tools.speaker_meta("male")})
    bad = [_add_defect(root / "01", "stereo", tools), _add_defect(root / "01", "misnamed", tools)]
    with pytest.raises(DataError) as info:
        load_recordings(root, progress=False)
    assert "(and 1 more problem)" in str(info.value)
    assert all(any(str(p) in problem for problem in info.value.problems) for p in bad)


def test_it_rejects_metadata_that_is_not_json(make_corpus, tools) -> None:
    root = make_corpus({"01": tools.speaker_meta("male")})
    (root / "audioMNIST_meta.txt").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="audioMNIST_meta.txt: cannot read the metadata as JSON"):
        load_recordings(root, progress=False)


def test_it_rejects_a_folder_without_metadata(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="metadata file not found"):
        load_recordings(tmp_path, progress=False)


def test_it_rejects_a_speaker_of_unknown_sex(make_corpus, tools) -> None:
    root = make_corpus({"01": tools.speaker_meta("divers")})
    with pytest.raises(DataError, match="gender 'divers'"):
        load_recordings(root, progress=False)


def test_it_finds_the_recordings_in_the_repositorys_data_folder(make_corpus, tools) -> None:
    root = make_corpus({"01": tools.speaker_meta("male")}, name="AudioMNIST/data")
    table = load_recordings(root.parent, progress=False)
    assert len(table) == 4 and table.root == root.resolve()


def test_the_fingerprint_depends_on_the_audio_but_not_on_where_the_corpus_lives(
    make_corpus, tmp_path: Path, tools
) -> None:
    root = make_corpus({"01": tools.speaker_meta("male"), "02": tools.speaker_meta("female")})
    copy = shutil.copytree(root, tmp_path / "elsewhere")
    assert (
        load_recordings(root, progress=False).fingerprint()
        == load_recordings(copy, progress=False).fingerprint()
    )
    tools.write_wav(copy / "01" / "0_01_0.wav", tools.tone(9, 9, 9, rate=48000, seconds=0.4), 48000)
    assert (
        load_recordings(root, progress=False).fingerprint()
        != load_recordings(copy, progress=False).fingerprint()
    )


def test_a_recording_labels_itself_for_each_task(quirky_corpus: Path) -> None:
    recording = load_recordings(quirky_corpus, progress=False)[0]
    assert recording.label("digit") == "3" and recording.label("sex") == "male"
    with pytest.raises(ValueError, match="unknown task"):
        recording.label("age")


def test_the_table_filters_by_speaker_and_take(quirky_corpus: Path) -> None:
    table = load_recordings(quirky_corpus, progress=False)
    females = table.where(speakers=["12", "36"], max_takes=20)
    assert {(r.speaker, r.take) for r in females} == {("12", 19), ("36", 19)}


def test_read_audio_resamples_to_8_khz_keeping_the_pitch(tmp_path: Path, tools) -> None:
    rate, freq = 48000, 440.0
    t = np.arange(rate // 2) / rate
    path = tools.write_wav(
        tmp_path / "a.wav", (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate
    )
    audio = read_audio(path)
    assert audio.dtype == np.float32 and audio.shape == (4000,)
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    assert np.fft.rfftfreq(audio.size, 1 / 8000)[spectrum.argmax()] == pytest.approx(freq, abs=2.0)
    assert np.max(np.abs(audio)) == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize(
    ("value", "age"),
    [(25, 25), ("31", 31), ("1234", None), (None, None), ("n/a", None), (True, None)],
)
def test_parse_age_accepts_numbers_and_numeric_strings_only(value: object, age: int | None) -> None:
    assert parse_age(value) == age


def test_the_demo_corpus_loads_cleanly_with_both_sexes(demo_table) -> None:
    sexes = demo_table.speaker_sexes()
    assert len(sexes) >= 12 and set(sexes.values()) == {"male", "female"}
    assert demo_table.duplicates == () and demo_table.notes == ()
    assert {r.sample_rate for r in demo_table} == {8000}
    assert max(r.duration_s for r in demo_table) < 1.0
