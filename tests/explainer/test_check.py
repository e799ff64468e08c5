"""``python -m explainer check``: every problem of a corpus at once, and what training will do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from explainer.check import corpus_check
from explainer.cli import main
from tests.explainer.conftest import tone, write_wav


def flat_corpus(root: Path, *, long_takes: int = 0, rate: int = 16000) -> Path:
    """Two speakers x digits 0-4 x two takes; the first ``long_takes`` takes last 1.5 s."""
    for speaker in ("anna", "ben"):
        for digit in range(5):
            for take in range(2):
                seconds = 1.5 if take < long_takes else 0.4
                audio = tone(digit, 1, take, rate=rate, seconds=seconds)
                write_wav(root / f"{digit}_{speaker}_{take}.wav", audio, rate)
    return root


def test_long_clips_are_one_problem_with_their_count_under_the_refuse_policy(
    tmp_path: Path,
) -> None:
    report = corpus_check(flat_corpus(tmp_path, long_takes=1))
    assert report.long_clips == 10 and not report.ok
    [problem] = report.problems
    assert "10 clips longer than 1 s (longest 1.50 s)" in problem and "--long-clips" in problem
    assert report.sample_rates == {"16000": 20}
    assert any("read at 8000 Hz" in note for note in report.notes)


def test_the_command_counts_one_problem_in_the_singular(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--data", str(flat_corpus(tmp_path, long_takes=1))]) == 2
    assert capsys.readouterr().err.strip().endswith("\n1 problem")


def test_a_cropping_policy_turns_long_clips_into_a_note_naming_the_policy(tmp_path: Path) -> None:
    report = corpus_check(flat_corpus(tmp_path, long_takes=1), long_clips="energy")
    assert report.ok
    assert any("10 clips longer" in n and "'energy' policy" in n for n in report.notes)


def test_problems_of_different_kinds_are_all_listed_by_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = flat_corpus(tmp_path, long_takes=1)
    (root / "9_ben_0.wav").write_bytes(b"RIFF")
    (root / "notes.wav").write_bytes(b"")
    (root / "8_ben_0.wav").write_bytes(b"")
    status = main(["check", "--data", str(root), "--min-clips", "11", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 2 and report["ok"] is False and report["layout"] == "flat"
    problems = "\n".join(report["problems"])
    assert "9_ben_0.wav: cannot read as WAV audio" in problems
    assert "8_ben_0.wav: is empty (0 bytes)" in problems
    assert "notes.wav: file name does not match D_SPEAKER_TAKE.wav" in problems
    assert "10 clips longer than 1 s" in problems
    assert "speakers with fewer than 11 clips: anna (10), ben (10)" in problems


def test_a_clean_corpus_passes_with_status_zero_and_a_summary_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--data", str(flat_corpus(tmp_path, rate=8000))]) == 0
    out = capsys.readouterr().out
    assert "flat layout, 20 recordings of 2 speakers" in out and out.strip().endswith("ok")


def test_a_path_that_is_no_corpus_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--data", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip().endswith("no such corpus folder or CSV manifest")


def test_training_refuses_long_clips_up_front_naming_their_count_and_writes_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = flat_corpus(tmp_path / "corpus", long_takes=1)
    out = tmp_path / "run"
    assert main(["train", "--data", str(root), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "10 clips longer than 1 s (longest 1.50 s)" in err and "--long-clips" in err
    assert not out.exists()
