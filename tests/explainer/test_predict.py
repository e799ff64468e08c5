"""``python -m explainer predict``: new files classified by a trained run, deterministically."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from explainer import preprocessing as pp
from explainer.cli import main
from explainer.data import load_recordings
from explainer.training import load_run


def test_its_probabilities_are_the_softmax_on_the_centred_clip_at_the_runs_temperature(
    trained_run: Path, demo_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A copy of the run whose summary records temperature 2.5 (explainer.calibration).
    copy = shutil.copytree(trained_run, tmp_path / "run")
    summary = json.loads((copy / "summary.json").read_text())
    temperature = 2.5
    summary["calibration"]["temperature"] = temperature
    (copy / "summary.json").write_text(json.dumps(summary))
    run = load_run(copy)
    test = load_recordings(demo_corpus, progress=False).where(speakers=run.test_speakers)
    files = [str(r.path) for r in test][:20]
    assert main(["predict", "--run", str(copy), "--format", "json", *files]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["temperature"] == temperature
    rows = out["predictions"]
    assert [r["file"] for r in rows] == files
    for row, recording in zip(rows, test, strict=False):
        audio, _ = sf.read(recording.path, dtype="float32")
        window = np.zeros(8000, np.float32)
        start = (8000 - len(audio)) // 2
        window[start : start + len(audio)] = audio
        with torch.no_grad():
            logits = run.model(torch.from_numpy(pp.audionet_input(window))[None, None])
        expected = torch.softmax(logits.double() / temperature, 1)[0].numpy()
        got = np.array([row["probabilities"][c] for c in run.classes])
        np.testing.assert_allclose(got, expected, atol=2e-6)
        assert row["offset"] == start and row["predicted"] == run.classes[int(expected.argmax())]


def test_the_same_audio_under_another_name_gets_the_same_answer(
    trained_run: Path, demo_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = next((demo_corpus / "01").glob("*.wav"))
    long = tmp_path / "long.wav"
    audio, rate = sf.read(source, dtype="float32")
    sf.write(long, np.concatenate([np.zeros(2 * rate, np.float32), audio]), rate)
    copies = [shutil.copy(p, tmp_path / f"renamed-{p.name}") for p in (source, long)]
    args = ["predict", "--run", str(trained_run), "--out", str(tmp_path / "p.csv")]
    assert main([*args, str(source), str(long), *map(str, copies)]) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "p.csv").read_text())))
    answers = [{k: v for k, v in r.items() if k != "file"} for r in rows]
    assert answers[:2] == answers[2:]
    # The short clip is centred; the clip after 2 s of silence is cropped where the word is.
    assert rate == 8000 and int(rows[0]["offset"]) == (8000 - len(audio)) // 2
    word_start = 2 * rate
    assert word_start + len(audio) - 8000 <= -int(rows[1]["offset"]) <= word_start
    assert set(rows[0]) >= {"p_0", "p_9", "predicted", "probability"}


def test_every_unusable_file_is_named_before_anything_is_written(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sf.write(tmp_path / "stereo.wav", np.zeros((800, 2), np.float32), 8000)
    (tmp_path / "text.wav").write_text("not audio", encoding="utf-8")
    out = tmp_path / "p.csv"
    status = main(
        [
            "predict",
            "--run",
            str(trained_run),
            "--out",
            str(out),
            str(tmp_path / "stereo.wav"),
            str(tmp_path / "text.wav"),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2 and "stereo.wav: has 2 channels" in err and "(and 1 more problem)" in err
    assert not out.exists()
