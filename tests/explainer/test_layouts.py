"""Each corpus layout reads into the same table; bad corpora name every problem at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from explainer.data import DataError
from explainer.layouts import detect_layout, open_corpus
from tests.explainer.conftest import tone, write_wav

SPEAKERS = {"anna": "female", "ben": "male"}


def _clip(digit: int, take: int, rate: int = 16000) -> np.ndarray:
    return tone(digit, 1, take, rate=rate, seconds=0.3)


def write_manifest(root: Path, rows: list[str], header: str = "path,label,speaker,sex") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return root / "corpus.csv"


def manifest_corpus(root: Path) -> Path:
    rows = []
    for speaker, sex in SPEAKERS.items():
        for digit in (0, 1):
            rel = f"audio/{speaker}-{digit}.wav"
            write_wav(root / rel, _clip(digit, 0), 16000)
            rows.append(f"{rel},{digit},{speaker},{sex}")
    return write_manifest(root, rows)


def test_a_csv_manifest_reads_paths_relative_to_the_file_with_labels_speakers_and_sexes(
    tmp_path: Path,
) -> None:
    table = open_corpus(manifest_corpus(tmp_path / "m"), progress=False)
    assert detect_layout(tmp_path / "m" / "corpus.csv") == "manifest"
    assert [(r.speaker, r.digit, r.sex) for r in table] == [
        ("anna", 0, "female"),
        ("anna", 1, "female"),
        ("ben", 0, "male"),
        ("ben", 1, "male"),
    ]
    assert table[0].relpath == "audio/anna-0.wav" and table[0].path.is_file()
    assert table.speaker_sexes() == SPEAKERS and table[0].sample_rate == 16000


def test_a_folder_per_class_takes_the_speaker_from_the_file_name_and_sexes_from_speakers_csv(
    tmp_path: Path,
) -> None:
    root = tmp_path / "classes"
    for word, digit in (("zero", 0), ("one", 1)):
        for speaker in SPEAKERS:
            for take in (0, 1):
                write_wav(root / word / f"{speaker}_{take}.wav", _clip(digit, take), 22050)
    (root / "speakers.csv").write_text("speaker,sex\nanna,female\nben,male\n", encoding="utf-8")
    table = open_corpus(root, progress=False)
    assert detect_layout(root) == "class-folders"
    assert len(table) == 8 and table.speaker_sexes() == SPEAKERS
    assert sorted({(r.speaker, r.digit, r.take) for r in table})[:2] == [
        ("anna", 0, 0),
        ("anna", 0, 1),
    ]


def test_a_flat_folder_of_digit_speaker_take_files_reads_without_conversion(
    tmp_path: Path,
) -> None:
    root = tmp_path / "flat"
    for speaker in ("jo", "7"):
        for digit in (3, 4):
            write_wav(root / f"{digit}_{speaker}_0.wav", _clip(digit, 0, 8000), 8000)
    table = open_corpus(root, progress=False)
    assert detect_layout(root) == "flat"
    # Numeric speakers get AudioMNIST's two-digit spelling, so split files match them.
    assert table.speakers() == ["07", "jo"] and {r.digit for r in table} == {3, 4}


def test_every_problem_of_a_manifest_is_listed_at_once_each_naming_its_file(
    tmp_path: Path,
) -> None:
    root = tmp_path / "bad"
    write_wav(root / "ok.wav", _clip(0, 0), 8000)
    sf.write(root / "stereo.wav", np.zeros((800, 2), np.float32), 8000)
    (root / "empty.wav").write_bytes(b"")
    (root / "text.wav").write_text("not audio", encoding="utf-8")
    write_wav(root / "nolabel.wav", _clip(1, 0), 8000)
    write_wav(root / "cat.wav", _clip(1, 0), 8000)
    manifest = write_manifest(
        root,
        [
            "ok.wav,0,anna,female",
            "stereo.wav,1,anna,female",
            "empty.wav,2,anna,female",
            "text.wav,3,anna,female",
            "nolabel.wav,,anna,female",
            "cat.wav,cat,anna,female",
            "missing.wav,4,anna,female",
            "ok.wav,5,,female",
        ],
    )
    with pytest.raises(DataError) as caught:
        open_corpus(manifest, progress=False)
    problems = caught.value.problems
    assert len(problems) == 7, problems
    for name, says in [
        ("stereo.wav", "2 channels"),
        ("empty.wav", "is empty (0 bytes)"),
        ("text.wav", "cannot read"),
        ("nolabel.wav", "no label"),
        ("cat.wav", "not a digit"),
        ("missing.wav", "no such file"),
        ("ok.wav", "no speaker"),
    ]:
        assert any(name in p and says in p for p in problems), (name, problems)


def test_a_manifest_without_the_label_column_is_refused_naming_the_column(
    tmp_path: Path,
) -> None:
    manifest = write_manifest(tmp_path, ["a.wav,anna"], header="path,speaker")
    with pytest.raises(DataError, match=r"corpus\.csv: the manifest needs the columns path,label"):
        open_corpus(manifest, progress=False)


def test_a_speaker_listed_without_clips_is_a_problem(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    write_wav(root / "0_anna_0.wav", _clip(0, 0), 8000)
    (root / "speakers.csv").write_text("speaker,sex\nanna,female\nzoe,female\n", encoding="utf-8")
    with pytest.raises(DataError, match="speakers zoe have no clips"):
        open_corpus(root, progress=False)


def test_a_folder_that_is_no_corpus_says_which_layouts_it_expected(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match="not a corpus: expected audioMNIST_meta.txt, a CSV"):
        open_corpus(tmp_path, progress=False)
