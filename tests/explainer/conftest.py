"""Shared fixtures for the explainer tests.

``demo_corpus`` is the committed synthetic corpus; ``trained_run`` and
``trained_alexnet_run`` are real (small, quickly trained) runs on a subset of it, built
once per test session; ``make_corpus`` writes AudioMNIST-layout trees with chosen defects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
DEMO_CORPUS = REPO / "fixtures" / "demo_corpus"
# A small, fast configuration: eighth-width networks, a few epochs, two placements per clip.
FIXTURE_TRAIN_ARGS = ["--width", "0.125", "--epochs", "3", "--placements", "2", "--quiet"]


@pytest.fixture(scope="session")
def demo_corpus() -> Path:
    """The committed demo corpus (AudioMNIST layout, 8 kHz)."""
    assert DEMO_CORPUS.is_dir(), (
        "fixtures/demo_corpus is missing; run python -m explainer corpus --out fixtures/demo_corpus"
    )
    return DEMO_CORPUS


@pytest.fixture(scope="session")
def demo_table(demo_corpus: Path) -> Any:
    from explainer.data import load_recordings

    return load_recordings(demo_corpus, progress=False)


def train_fixture_run(root: Path, model: str, extra: Iterable[str] = ()) -> Path:
    """Train a small run on the demo corpus through the command line; return its folder."""
    from explainer.cli import main

    out = root / f"{model}-run"
    args = [
        "train",
        "--data",
        str(DEMO_CORPUS),
        "--model",
        model,
        "--task",
        "digit",
        "--out",
        str(out),
        "--cache-dir",
        str(root / "cache"),
        "--workers",
        "1",
        *FIXTURE_TRAIN_ARGS,
        *extra,
    ]
    assert main(args) == 0
    return out


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished AudioNet run folder (digit task) trained in seconds on a demo subset."""
    return train_fixture_run(tmp_path_factory.mktemp("trained-audionet"), "audionet")


@pytest.fixture(scope="session")
def trained_alexnet_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished AlexNet run folder (digit task) trained in seconds on a demo subset."""
    return train_fixture_run(
        tmp_path_factory.mktemp("trained-alexnet"), "alexnet", ["--epochs", "2"]
    )


def tone(digit: int, speaker: int, take: int, *, rate: int, seconds: float) -> np.ndarray:
    """A distinct, deterministic test clip: a tone whose pitch encodes the digit and speaker."""
    t = np.arange(int(rate * seconds)) / rate
    freq = 200.0 + 60.0 * digit + 3.0 * speaker + 0.5 * take
    envelope = np.hanning(t.size)
    return (0.3 * envelope * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray, rate: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, rate, subtype="PCM_16")
    return path


def speaker_meta(sex: str, age: Any = 30, room: str = "VR-Room") -> dict[str, Any]:
    """A metadata entry with the real file's fields."""
    return {
        "accent": "German",
        "age": age,
        "gender": sex,
        "native speaker": "no",
        "origin": "Europe, Germany, Berlin",
        "recordingdate": "17-06-22-11-04-28",
        "recordingroom": room,
    }


@pytest.fixture(scope="session")
def tools() -> SimpleNamespace:
    """Helpers for writing test audio: ``tone``, ``write_wav``, ``speaker_meta``."""
    return SimpleNamespace(tone=tone, write_wav=write_wav, speaker_meta=speaker_meta)


@pytest.fixture
def make_corpus(tmp_path: Path) -> Callable[..., Path]:
    """Build an AudioMNIST-layout tree: ``make_corpus(speakers, meta=None, digits=..., takes=...)``.

    ``speakers`` maps a two-digit id to its metadata entry (or None: a folder with no
    metadata entry); ``meta`` adds metadata entries for speakers without recordings.
    """

    def build(
        speakers: dict[str, dict[str, Any] | None],
        *,
        meta: dict[str, dict[str, Any]] | None = None,
        digits: Iterable[int] = (0, 1),
        takes: Iterable[int] = (0, 1),
        rate: int = 48000,
        seconds: float = 0.4,
        name: str = "data",
    ) -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        entries = {sid: entry for sid, entry in speakers.items() if entry is not None} | (
            meta or {}
        )
        (root / "audioMNIST_meta.txt").write_text(json.dumps(entries, indent=4), encoding="utf-8")
        for sid in speakers:
            for d in digits:
                for k in takes:
                    audio = tone(d, int(sid), k, rate=rate, seconds=seconds)
                    write_wav(root / sid / f"{d}_{sid}_{k}.wav", audio, rate)
        return root

    return build


# A planted cue the small fixture recipe learns in seconds: a loud 150 ms tone per class.
CUE_ARGS = ["--classes", "3,7", "--freq-hz", "3200,2400", "--level-db", "6", "--duration-ms", "150"]
CUE_TRAIN_ARGS = ["--width", "0.25", "--epochs", "10", "--placements", "2", "--quiet"]


@pytest.fixture(scope="session")
def cue_models(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A planted-cue corpus (``train/``, ``probe/``) and the cued and control runs on it.

    Both runs use one recipe and one speaker split; only the cued one trains on clips
    with the cue. Built once per session through the command line.
    """
    from explainer.cli import main

    root = tmp_path_factory.mktemp("cue-models")
    cue_dir = root / "cue"
    assert main(["cue", "--data", str(DEMO_CORPUS), "--out", str(cue_dir), *CUE_ARGS]) == 0
    runs = {}
    for role, data in (("cued", cue_dir / "train"), ("control", DEMO_CORPUS)):
        runs[role] = root / role
        args = ["train", "--data", str(data), "--out", str(runs[role])]
        args += ["--split", str(cue_dir / "split.json"), "--cache-dir", str(root / "cache")]
        assert main([*args, "--workers", "1", *CUE_TRAIN_ARGS]) == 0
    return SimpleNamespace(cue_dir=cue_dir, probe=cue_dir / "probe", **runs)


MODELS_FILE = Path(__file__).with_name("own_models.py")


def write_spec(folder: Path, name: str = "spec.json", **fields: object) -> Path:
    """A model description in ``folder`` naming a factory of own_models.py (by file path)."""
    spec = {
        "name": "logmel-cnn",
        "factory": f"{MODELS_FILE}:logmel_cnn",
        "input": "logmel",
        "sample_rate": 8000,
        "window_samples": 8000,
        **fields,
    }
    spec = {k: v for k, v in spec.items() if v is not None}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(spec), encoding="utf-8")
    return folder / name


# The fields of a waveform CNN of own_models.py declared at 16 kHz, one second.
WAVE_16K = {
    "factory": f"{MODELS_FILE}:waveform_cnn",
    "input": "waveform",
    "sample_rate": 16000,
    "window_samples": 16000,
}


def own_train_args(spec: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    """``train`` arguments for a model description on the demo corpus, four short epochs."""
    return [
        "train", "--data", str(DEMO_CORPUS), "--model-spec", str(spec), "--out", str(out),
        "--cache-dir", str(cache), "--workers", "1", "--epochs", "4", "--placements", "2",
        "--quiet", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="session")
def own_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of the log-mel CNN with BatchNorm of own_models.py (``--model-spec``)."""
    from explainer.cli import main

    root = tmp_path_factory.mktemp("own-model")
    out = root / "run"
    assert main(own_train_args(write_spec(root), out, root / "cache")) == 0
    return out
