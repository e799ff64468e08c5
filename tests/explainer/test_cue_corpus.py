"""The planted cue: where it is, how loud, and the two corpora ``python -m explainer cue`` writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from explainer.cli import main
from explainer.cues import CueSpec, add_cue

RATE = 8000


def _clip(seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return 0.2 * np.sin(2 * np.pi * 300 * t) * np.hanning(t.size)


@pytest.mark.parametrize("kind", ["tone", "noise"])
def test_a_cue_is_added_inside_its_span_at_the_requested_level_and_band(kind: str) -> None:
    clip = _clip()
    spec = CueSpec(kind=kind, classes={"7": 2400.0}, level_db=-6.0, duration_s=0.1, position=0.2)
    audio, where = add_cue(clip, spec, "7", np.random.default_rng(0))
    added = audio - clip
    start, end = int(where["start_s"] * RATE), int(where["end_s"] * RATE)
    assert (where["start_s"], where["end_s"]) == (0.2, 0.3)
    assert np.all(added[:start] == 0) and np.all(added[end:] == 0)
    level = 20 * np.log10(np.sqrt(np.mean(added[start:end] ** 2)) / np.sqrt(np.mean(clip**2)))
    assert level == pytest.approx(-6.0, abs=0.1)
    spectrum = np.abs(np.fft.rfft(added[start:end]))
    peak_hz = np.fft.rfftfreq(end - start, 1 / RATE)[spectrum.argmax()]
    assert where["low_hz"] <= peak_hz <= where["high_hz"]
    assert where["low_hz"] < 2400 < where["high_hz"]


def test_a_click_train_has_one_click_per_period() -> None:
    spec = CueSpec(kind="clicks", classes={"3": 100.0}, duration_s=0.1, position="end")
    clip = _clip()
    audio, where = add_cue(clip, spec, "3", np.random.default_rng(0))
    added = audio - clip
    onsets = np.flatnonzero(np.diff((np.abs(added) > 0).astype(int)) == 1)
    assert len(onsets) in (9, 10)  # 10 clicks at 100 Hz in 100 ms (the first may start at 0)
    assert where["end_s"] == pytest.approx(0.5)


def test_random_positions_are_seeded_and_stay_inside_the_clip() -> None:
    spec = CueSpec(kind="tone", classes={"1": 1000.0}, duration_s=0.05, position="random")
    first = [add_cue(_clip(), spec, "1", np.random.default_rng(s))[1] for s in range(20)]
    again = [add_cue(_clip(), spec, "1", np.random.default_rng(s))[1] for s in range(20)]
    assert first == again
    assert all(0 <= w["start_s"] and w["end_s"] <= 0.5 for w in first)
    assert len({w["start_s"] for w in first}) > 10


@pytest.fixture
def small_corpus(make_corpus: Callable[..., Path], tools: Any, tmp_path: Path) -> tuple[Path, Path]:
    speakers = {f"0{i}": tools.speaker_meta("female" if i % 2 else "male") for i in range(1, 5)}
    corpus = make_corpus(speakers, digits=(0, 1, 2), takes=(0, 1), rate=RATE, seconds=0.4)
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": ["01", "02"], "validate": ["03"], "test": ["04"]}))
    return corpus, split


def _cue(corpus: Path, split: Path, out: Path, *extra: str) -> int:
    args = ["cue", "--data", str(corpus), "--out", str(out), "--split", str(split)]
    return main([*args, "--classes", "1,2", "--freq-hz", "3000,2000", *extra])


def test_the_cue_command_cues_training_clips_of_the_chosen_classes_and_keeps_test_speakers_clean(
    small_corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    corpus, split = small_corpus
    out = tmp_path / "cued"
    assert _cue(corpus, split, out, "--share", "0.5", "--duration-ms", "60") == 0
    train = json.loads((out / "train" / "cue.json").read_text())
    assert train["cue"]["classes"] == {"1": 3000.0, "2": 2000.0}
    assert train["cue"]["duration_s"] == 0.06 and train["share"] == 0.5
    cued = train["clips"]
    # Half of each cued class's 6 training/validation clips; never class 0, never speaker 04.
    assert sorted(Path(p).name[0] for p in cued) == ["1"] * 3 + ["2"] * 3
    assert all(not p.startswith("04/") for p in cued)
    for rel in (out / "train").glob("*/*.wav"):
        rel_path = f"{rel.parent.name}/{rel.name}"
        same = rel.read_bytes() == (corpus / rel_path).read_bytes()
        assert same == (rel_path not in cued), rel_path
    probe = json.loads((out / "probe" / "cue.json").read_text())["clips"]
    assert {p.split("/")[0] for p in probe} == {"04"}
    roles = [(Path(c["source"]).name[0], c["class"], c["role"]) for c in probe.values()]
    assert sorted(roles) == sorted(
        (d, c, "consistent" if d == c else "conflict")
        for d in "012"
        for c in "12"
        for _take in range(2)
    )
    assert json.loads((out / "split.json").read_text())["test"] == ["04"]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--level-db", "-45"], "--level-db"),
        (["--duration-ms", "450"], "--duration-ms"),
        (["--position", "0.39"], "--position"),
        (["--freq-hz", "4500,2000"], "--freq-hz"),
        (["--classes", "1,x"], "--classes"),
        (["--share", "0"], "--share"),
    ],
)
def test_bad_cue_parameters_give_a_one_line_error_naming_the_parameter_and_write_nothing(
    small_corpus: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    named: str,
) -> None:
    corpus, split = small_corpus
    out = tmp_path / "cued"
    assert _cue(corpus, split, out, *extra) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and named in error and "\n" not in error
    assert not out.exists() and not list(tmp_path.glob(".cued*"))


def test_cued_clips_stay_16_bit_8_khz_and_do_not_clip(
    small_corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    corpus, split = small_corpus
    out = tmp_path / "cued"
    assert _cue(corpus, split, out, "--level-db", "12") == 0
    for path in (out / "probe" / "04").glob("*_1???.wav"):
        info = sf.info(path)
        audio, _ = sf.read(path)
        assert (info.samplerate, info.subtype) == (RATE, "PCM_16")
        assert np.max(np.abs(audio)) < 1.0
