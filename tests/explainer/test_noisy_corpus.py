"""``python -m explainer degrade``: noisy copies at the SNR asked for, seeded and recorded."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from explainer.cli import main


@pytest.fixture
def corpus(make_corpus: Callable[..., Path], tools: Any) -> Path:
    speakers = {"01": tools.speaker_meta("female"), "02": tools.speaker_meta("male")}
    return make_corpus(speakers, digits=(0, 1), takes=(0,), rate=8000, seconds=0.4)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def test_each_copy_has_noise_at_the_requested_snr_and_the_file_records_it(
    corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "noisy"
    assert main(["degrade", "--data", str(corpus), "--out", str(out), "--snr-db", "5"]) == 0
    record = json.loads((out / "degradation.json").read_text())
    assert record["snr_db"] == 5 and record["seed"] == 0
    assert sorted(record["clips"]) == [
        "01/0_01_0.wav",
        "01/1_01_0.wav",
        "02/0_02_0.wav",
        "02/1_02_0.wav",
    ]
    for rel in record["clips"]:
        clean, _ = sf.read(corpus / rel)
        noisy, rate = sf.read(out / rel)
        assert rate == 8000
        snr = 20 * np.log10(_rms(clean) / _rms(noisy - clean))
        assert snr == pytest.approx(5.0, abs=0.5)


def test_the_same_seed_gives_the_same_noise_and_another_seed_other_noise(
    corpus: Path, tmp_path: Path
) -> None:
    runs = {}
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        out = tmp_path / name
        args = ["degrade", "--data", str(corpus), "--out", str(out), "--snr-db", "0"]
        assert main([*args, "--seed", seed, "--speakers", "02"]) == 0
        runs[name] = (out / "02" / "1_02_0.wav").read_bytes()
    assert runs["a"] == runs["b"] != runs["c"]
    assert not (tmp_path / "a" / "01").exists()


@pytest.mark.parametrize(
    ("extra", "named"),
    [(["--snr-db", "99"], "--snr-db"), (["--snr-db", "0", "--speakers", "07"], "--speakers")],
)
def test_bad_arguments_name_the_parameter_and_write_nothing(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], named: str
) -> None:
    out = tmp_path / "noisy"
    assert main(["degrade", "--data", str(corpus), "--out", str(out), *extra]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and named in error and "\n" not in error
    assert not out.exists()
