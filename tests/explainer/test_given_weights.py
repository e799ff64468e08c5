"""An own model trained elsewhere (``train --model-spec SPEC --no-train``).

Its given weights are evaluated into an ordinary run folder, which ``evaluate``,
``predict`` and ``bundle`` take as they take a trained run. The weights are those of the
log-mel CNN with BatchNorm that the ``own_run`` fixture trains, saved as a researcher
saves them (``torch.save(model.state_dict(), path)``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from contracts import bundle_format as bf
from explainer import bundle as eb
from explainer import preprocessing as pp
from explainer.cli import main
from explainer.data import load_recordings, read_audio
from explainer.training import load_run
from tests.explainer import own_models
from tests.explainer.conftest import DEMO_CORPUS, write_spec

GIVEN = "weights given, not trained"


def given_args(spec: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return [
        "train", "--data", str(DEMO_CORPUS), "--model-spec", str(spec), "--out", str(out),
        "--cache-dir", str(cache), "--workers", "1", "--quiet", "--no-train", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def weights(own_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained log-mel CNN's state dict, saved outside any run folder."""
    path = tmp_path_factory.mktemp("weights") / "trained.pt"
    torch.save(load_run(own_run).model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def given_run(weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("given")
    out = root / "run"
    assert main(given_args(write_spec(root, weights=str(weights)), out, root / "cache")) == 0
    return out


def direct_accuracy(weights: Path, test_speakers: list[str], seed: int) -> float:
    """The weights in the factory's model, on the test clips placed and transformed by hand."""
    model = own_models.logmel_cnn()
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.eval()
    table = list(load_recordings(DEMO_CORPUS, progress=False).where(speakers=test_speakers))
    inputs = []
    for recording in table:
        audio = read_audio(recording.path, target_sr=pp.SAMPLE_RATE)
        rng = pp.clip_offset_rng(seed, recording.relpath, 0)
        window, _ = pp.place_in_window(audio, rng=rng, long_clips="refuse")
        inputs.append(pp.model_input(window, "logmel"))
    # Runs store their inputs as float16 (explainer.cache); round as they do.
    x = torch.from_numpy(np.stack(inputs).astype(np.float16).astype(np.float32))
    with torch.no_grad():
        predicted = model(x[:, None]).argmax(1).tolist()
    return float(np.mean([p == r.digit for p, r in zip(predicted, table, strict=True)]))


def test_the_given_weights_are_evaluated_as_they_are(
    given_run: Path, own_run: Path, weights: Path
) -> None:
    config = json.loads((given_run / "config.json").read_text())
    summary = json.loads((given_run / "summary.json").read_text())
    assert config["provenance"] == summary["provenance"] == GIVEN
    assert config["epochs"] == 0 and config["optimizer"] == "none" and summary["steps"] == 0
    accuracy = direct_accuracy(weights, config["split"]["test"], config["seed"])
    assert summary["test_accuracy"] == accuracy
    # The run that trained these weights measured the same on the same split.
    trained = json.loads((own_run / "summary.json").read_text())
    assert trained["provenance"] == "trained" and trained["test_accuracy"] == accuracy
    per_speaker = summary["per_speaker_accuracy"]
    assert sorted(per_speaker) == sorted(config["split"]["test"])
    assert sum(s["n"] for s in per_speaker.values()) == summary["test_n"]
    for name in ("model.pt", "predictions.csv", "figures/confusion_matrix.png"):
        assert (given_run / name).is_file(), name
    assert (given_run / "figures" / "speaker_accuracy.png").is_file()
    assert not list(given_run.parent.glob(".run.partial-*"))


def test_evaluate_predict_and_bundle_take_the_run(
    given_run: Path, own_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(given_run)]) == 0
    assert "logmel-cnn" in capsys.readouterr().out
    wav = next((DEMO_CORPUS / "01").glob("*.wav"))
    rows = []
    for run in (given_run, own_run):
        assert main(["predict", "--run", str(run), "--format", "json", str(wav)]) == 0
        rows.append(json.loads(capsys.readouterr().out)["predictions"][0])
    assert rows[0]["probabilities"] == rows[1]["probabilities"]
    out = tmp_path / "bundle"
    args = ["bundle", "--run", str(given_run), "--data", str(DEMO_CORPUS), "--n", "2"]
    assert main([*args, "--methods", "lrp-epsilon-plus-flat", "--out", str(out)]) == 0
    assert eb.validate_bundle(out) == []
    model = bf.read_manifest(out)["model"]
    assert model["architecture"] == "logmel-cnn"
    assert model["training_data"]["description"].startswith(GIVEN)


def test_a_torchscript_model_needs_no_weights_file(given_run: Path, tmp_path: Path) -> None:
    torch.jit.script(load_run(given_run).model).save(str(tmp_path / "scripted.pt"))
    spec = write_spec(tmp_path, factory=None, torchscript="scripted.pt", name="scripted")
    out = tmp_path / "run"
    assert main(given_args(spec, out, tmp_path / "cache")) == 0
    summary = json.loads((out / "summary.json").read_text())
    given = json.loads((given_run / "summary.json").read_text())
    assert summary["test_accuracy"] == given["test_accuracy"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no weights", "--no-train evaluates the description's weights, and it names none"),
        ("narrower", "key '0.weight': shape (4, 1, 3, 3), the model's is (8, 1, 3, 3)"),
        ("renamed", "do not fit the model (missing key '0.weight')"),
        ("extra", "do not fit the model (unexpected key 'head.weight')"),
        ("not a dict", "holds a list, not a state dict"),
    ],
)
def test_weights_that_are_missing_or_do_not_fit_are_refused_before_writing(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, message: str
) -> None:
    state = torch.load(weights, weights_only=True)
    given = {
        "narrower": own_models.logmel_cnn(channels=4).state_dict(),
        "renamed": {f"net.{key}": value for key, value in state.items()},
        "extra": {**state, "head.weight": torch.zeros(1)},
        "not a dict": list(state.values()),
    }
    fields = {}
    if change in given:
        torch.save(given[change], tmp_path / "bad.pt")
        fields["weights"] = "bad.pt"
    out = tmp_path / "run"
    assert main(given_args(write_spec(tmp_path, **fields), out, tmp_path / "cache")) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert "spec.json" in err and (change == "no weights" or "bad.pt" in err)
    assert not out.exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--epochs", "3"], "--epochs: training options do not apply with --no-train"),
        (["--lr", "0.1", "--preset", "demo"], "--lr, --preset: training options do not apply"),
    ],
)
def test_training_options_are_refused_with_no_train(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list, message: str
) -> None:
    spec = write_spec(tmp_path, weights=str(weights))
    assert main(given_args(spec, tmp_path / "run", tmp_path / "cache", *extra)) == 2
    assert message in capsys.readouterr().err
    assert main(["train", "--data", str(DEMO_CORPUS), "--out", str(tmp_path), "--no-train"]) == 2
    assert "--no-train needs --model-spec" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_failure_while_writing_leaves_no_half_written_run(
    given_run: Path, weights: Path, tmp_path: Path
) -> None:
    """The cache folder is a file, so preprocessing fails after config.json and model.pt
    were written: neither the new run nor its staging folder stays, and the run that
    ``--force`` would have replaced is still whole."""
    spec = write_spec(tmp_path, weights=str(weights))
    (tmp_path / "cache").write_text("not a folder")
    fresh, old = tmp_path / "fresh", tmp_path / "old"
    shutil.copytree(given_run, old)
    with pytest.raises(OSError):
        main(given_args(spec, fresh, tmp_path / "cache"))
    with pytest.raises(OSError):
        main(given_args(spec, old, tmp_path / "cache", "--force"))
    assert not fresh.exists() and not list(tmp_path.glob(".*.partial-*"))
    assert sorted(p.name for p in old.iterdir()) == sorted(p.name for p in given_run.iterdir())
