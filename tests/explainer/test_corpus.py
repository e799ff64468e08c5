"""The synthetic demo corpus: its generator and the committed copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from explainer import corpus
from explainer.cli import main
from explainer.data import load_recordings

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"
)
REAL_META_FIELDS = {
    "accent",
    "age",
    "gender",
    "native speaker",
    "origin",
    "recordingdate",
    "recordingroom",
}


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return corpus.write_corpus(
        tmp_path_factory.mktemp("c") / "corpus", n_speakers=2, takes=2, seed=0, progress=False
    )


@needs_espeak
def test_it_writes_a_corpus_the_audiomnist_loader_reads(small_corpus: Path) -> None:
    table = load_recordings(small_corpus, progress=False)
    assert len(table) == 40 and table.speaker_sexes() == {"01": "female", "02": "male"}
    assert {r.sample_rate for r in table} == {8000}
    assert all(0.1 < r.duration_s < 1.0 for r in table)
    info = sf.info(table[0].path)
    assert (info.channels, info.subtype) == (1, "PCM_16")
    meta = json.loads((small_corpus / "audioMNIST_meta.txt").read_text())
    assert all(set(entry) == REAL_META_FIELDS for entry in meta.values())


@needs_espeak
def test_the_same_seed_writes_identical_files(small_corpus: Path, tmp_path: Path) -> None:
    again = corpus.write_corpus(tmp_path / "again", n_speakers=2, takes=2, seed=0, progress=False)
    for path in sorted(small_corpus.rglob("*.wav")):
        assert path.read_bytes() == (again / path.relative_to(small_corpus)).read_bytes()


@needs_espeak
def test_another_seed_gives_other_takes(small_corpus: Path, tmp_path: Path) -> None:
    other = corpus.write_corpus(tmp_path / "other", n_speakers=2, takes=2, seed=1, progress=False)
    assert (small_corpus / "01/3_01_0.wav").read_bytes() != (other / "01/3_01_0.wav").read_bytes()


@needs_espeak
def test_generation_json_records_the_seed_voices_and_each_takes_choices(small_corpus: Path) -> None:
    record = json.loads((small_corpus / corpus.GENERATION_NAME).read_text())
    assert record["seed"] == 0 and record["espeak_ng"].startswith("eSpeak NG")
    assert set(record["takes"]) == {
        str(p.relative_to(small_corpus)) for p in small_corpus.rglob("*.wav")
    }
    take = record["takes"]["02/7_02_1.wav"]
    assert set(take) == {"pitch", "speed", "peak_dbfs", "snr_db", "lead_ms", "tail_ms"}
    assert record["speakers"]["02"]["sex"] == "male"


@needs_espeak
def test_takes_carry_the_recorded_level_and_noise(small_corpus: Path) -> None:
    record = json.loads((small_corpus / corpus.GENERATION_NAME).read_text())
    for rel in ("01/0_01_0.wav", "02/9_02_1.wav"):
        audio, _ = sf.read(small_corpus / rel)
        expected_peak = 10 ** (record["takes"][rel]["peak_dbfs"] / 20)
        assert np.max(np.abs(audio)) == pytest.approx(expected_peak, rel=0.1)
        lead = int(record["takes"][rel]["lead_ms"] * 8)
        if lead > 8:  # the lead-in holds noise only, far below the speech
            assert np.std(audio[:lead]) < 0.05 * expected_peak


@needs_espeak
def test_it_refuses_to_overwrite_a_folder_unless_forced(
    small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    assert main(["corpus", "--out", str(target), "--speakers", "2", "--takes", "1"]) == 2
    assert "not empty; pass --force" in capsys.readouterr().err
    assert main(["corpus", "--out", str(target), "--speakers", "2", "--takes", "1", "--force"]) == 0
    assert not (target / "keep.txt").exists() and len(list(target.rglob("*.wav"))) == 20
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--speakers", "1"], "--speakers must be 2.."), (["--takes", "0"], "--takes must be 1..50")],
)
def test_it_rejects_out_of_range_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["corpus", "--out", str(tmp_path / "c"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_the_voices_alternate_sexes_and_differ() -> None:
    assert [v.sex for v in corpus.VOICES[:4]] == ["female", "male", "female", "male"]
    assert len({(v.espeak_name, v.pitch, v.speed) for v in corpus.VOICES}) == len(corpus.VOICES)


def test_trimming_keeps_the_spoken_part_only() -> None:
    audio = np.concatenate([np.zeros(800), np.sin(np.arange(1600) / 5.0), np.zeros(1200)])
    trimmed = corpus.trim_silence(audio)
    assert 1600 <= trimmed.size <= 1600 + 2 * 40


def test_the_committed_demo_corpus_is_small_balanced_and_described(
    demo_corpus: Path, demo_table
) -> None:
    size = sum(p.stat().st_size for p in demo_corpus.rglob("*") if p.is_file())
    assert size < 5_000_000
    record = json.loads((demo_corpus / corpus.GENERATION_NAME).read_text())
    assert set(record["takes"]) == {r.relpath for r in demo_table}
    sexes = list(demo_table.speaker_sexes().values())
    assert len(sexes) >= 12 and sexes.count("female") == sexes.count("male")
    assert all(sf.info(r.path).subtype == "PCM_16" for r in list(demo_table)[::37])


@needs_espeak
def test_regenerating_reproduces_the_committed_corpus(demo_corpus: Path, tmp_path: Path) -> None:
    record = json.loads((demo_corpus / corpus.GENERATION_NAME).read_text())
    if record["espeak_ng"] != corpus.espeak_version():
        pytest.skip(f"committed corpus was made with {record['espeak_ng']}")
    # Voices are numbered in order and every take has its own seed, so the first two
    # speakers come out the same when only they are generated.
    again = corpus.write_corpus(
        tmp_path / "again",
        n_speakers=2,
        takes=record["takes_per_digit"],
        seed=record["seed"],
        progress=False,
    )
    for path in sorted(again.rglob("*.wav")):
        assert path.read_bytes() == (demo_corpus / path.relative_to(again)).read_bytes(), path.name
