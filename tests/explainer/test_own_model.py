"""A researcher's own model (``train --model-spec``): trained, evaluated, predicted, explained, bundled.

The model is the issue's small log-mel CNN with BatchNorm (``tests/explainer/own_models.py``),
trained here for a few epochs on the demo corpus.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import EpsilonPlusFlat

from contracts import bundle_format as bf
from explainer import bundle as eb
from explainer import preprocessing as pp
from explainer.cli import main
from explainer.data import load_recordings
from explainer.errors import UserError
from explainer.relevance import explain, method_refusal
from explainer.selection import Design
from explainer.training import load_run
from tests.explainer import own_models
from tests.explainer.conftest import (
    DEMO_CORPUS,
    MODELS_FILE,
    WAVE_16K,
    own_train_args,
    write_spec,
)


def test_the_logmel_cnn_is_trained_and_evaluated_like_the_papers_networks(own_run: Path) -> None:
    config = json.loads((own_run / "config.json").read_text())
    summary = json.loads((own_run / "summary.json").read_text())
    assert config["architecture"] == "logmel-cnn" and config["model_spec"]["input"] == "logmel"
    assert summary["architecture"] == "logmel-cnn" and summary["per_speaker_accuracy"]
    # Four short epochs on the demo corpus: well above chance (10 %) on held-out speakers.
    assert summary["test_accuracy"] > 0.3
    assert (own_run / "figures" / "speaker_accuracy.png").is_file()
    run = load_run(own_run)
    assert run.representation == "logmel" and run.classes == [str(d) for d in range(10)]
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in run.model.modules())


def test_predict_classifies_a_wav_file_with_it(
    own_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wav = next((DEMO_CORPUS / "01").glob("*.wav"))
    assert main(["predict", "--run", str(own_run), "--format", "json", str(wav)]) == 0
    row = json.loads(capsys.readouterr().out)["predictions"][0]
    assert abs(sum(row["probabilities"].values()) - 1.0) < 1e-4
    assert row["predicted"] in row["probabilities"]


def _test_inputs(run_dir: Path, n: int = 4) -> tuple[object, torch.Tensor]:
    run = load_run(run_dir)
    table = load_recordings(DEMO_CORPUS, progress=False).where(speakers=run.test_speakers)
    inputs = [run.prepare(r.path, r.relpath)[1] for r in list(table)[:n]]
    return run, torch.from_numpy(np.stack(inputs)).unsqueeze(1)


def test_its_lrp_is_zennits_canonized_result(own_run: Path) -> None:
    run, x = _test_inputs(own_run)
    ours = explain(run.model, x, "lrp-epsilon-plus-flat")
    model = copy.deepcopy(run.model).eval()
    seed = torch.eye(10)[ours.targets] * ours.logits
    with Gradient(model, EpsilonPlusFlat(canonizers=[SequentialMergeBatchNorm()])) as attributor:
        _, reference = attributor(x.requires_grad_(True), seed)
    scale = reference.abs().max().item()
    assert scale > 0
    assert (ours.relevance - reference).abs().max().item() < 1e-4 * scale


def test_its_lrp_conserves_the_logit_where_no_bias_takes_relevance(own_run: Path) -> None:
    """With the BatchNorm shift set to zero the merged layers have no bias, and the input's
    relevance sums to the explained logit (as trained, the biases keep part of it)."""
    run, x = _test_inputs(own_run)
    unbiased = copy.deepcopy(run.model).double()
    for layer in unbiased.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.zero_()
            layer.bias.data.zero_()
    for implementation in ("fast", "zennit"):
        result = explain(
            unbiased, x.double(), "lrp-epsilon-plus-flat", params={"implementation": implementation}
        )
        logit = result.logits.gather(1, result.targets[:, None]).reshape(-1)
        assert logit.abs().min() > 0
        # Only the rules' stabilisers (1e-6 on each denominator) keep anything back.
        torch.testing.assert_close(result.relevance.sum((1, 2, 3)), logit, rtol=1e-4, atol=1e-9)


def test_a_residual_model_is_explained_as_zennit_explains_it() -> None:
    torch.manual_seed(0)
    model = own_models.residual_cnn().double().eval()
    for layer in model.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_var.uniform_(0.5, 2.0)
            layer.bias.data.uniform_(-0.5, 0.5)
    x = torch.rand(2, 1, 64, 227, dtype=torch.float64) * 80
    ours = explain(model, x, "lrp-epsilon-plus-flat")
    seed = torch.eye(10, dtype=torch.float64)[ours.targets] * ours.logits
    with Gradient(model, EpsilonPlusFlat(canonizers=[SequentialMergeBatchNorm()])) as attributor:
        _, reference = attributor(x.clone().requires_grad_(True), seed)
    # 1e-5 of the largest relevance: the rules' stabilisers differ in the last digits.
    assert (ours.relevance - reference).abs().max() < 1e-5 * reference.abs().max()


def test_a_bundle_of_it_validates_and_shows_relevance_on_the_spectrogram(
    own_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bundle"
    design = Design(n_decisions=2, practice=0, methods=("lrp-epsilon-plus-flat", "occlusion"))
    eb.write_bundle(eb.plan_bundle(own_run, DEMO_CORPUS, design, seed=1), out)
    manifest = bf.read_manifest(out)
    assert eb.validate_bundle(out) == []
    assert manifest["model"]["architecture"] == "logmel-cnn"
    assert manifest["model"]["input"] == "logmel"
    assert "mel-band relevance" in manifest["rendering"]["audible"]["method"]
    assert len(manifest["stimuli"]) == 4


def test_lrp_is_refused_for_layers_without_a_rule_and_for_torchscript(
    own_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "no rule for layer 'gru'" in str(method_refusal(own_models.recurrent_model(), "lrp"))
    assert method_refusal(own_models.recurrent_model(), "baseline") is None
    scripted = torch.jit.script(load_run(own_run).model)
    scripted.save(str(tmp_path / "scripted.pt"))
    spec = write_spec(tmp_path, factory=None, torchscript="scripted.pt", name="scripted-cnn")
    run = tmp_path / "ts-run"
    assert main(own_train_args(spec, run, tmp_path / "cache", "--epochs", "1")) == 0
    args = ["bundle", "--run", str(run), "--data", str(DEMO_CORPUS), "--n", "2"]
    assert main([*args, "--out", str(tmp_path / "b1"), "--methods", "lrp-epsilon"]) == 2
    assert "TorchScript" in capsys.readouterr().err and not (tmp_path / "b1").exists()
    assert main([*args, "--out", str(tmp_path / "b2"), "--methods", "gradient"]) == 0
    assert eb.validate_bundle(tmp_path / "b2") == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"factory": "no_such_module_xyz:build"}, "cannot be imported (ModuleNotFoundError"),
        ({"factory": f"{MODELS_FILE}:missing"}, "cannot be imported (AttributeError"),
        ({"factory": f"{MODELS_FILE}:five_outputs"}, "expected (1, 10) (one logit per label)"),
        ({"factory": f"{MODELS_FILE}:not_a_module"}, "returned str, not a torch.nn.Module"),
        ({"input": "waveform"}, "the model fails on a waveform input of shape (1, 1, 8000)"),
        ({"input": "mfcc"}, "input must be one of waveform, spectrogram"),
        ({"sample_rate": 16000}, "a logmel input is computed here at 8000 Hz over 8000 samples"),
        ({**WAVE_16K, "window_samples": 8000}, "window_samples 8000 is shorter than one second"),
        ({**WAVE_16K, "sample_rate": 1000, "window_samples": 1000}, "sample_rate 1000 is outside"),
        ({**WAVE_16K, "sample_rate": "16k"}, "sample_rate must be a positive whole number"),
        (
            {**WAVE_16K, "factory": f"{MODELS_FILE}:five_outputs"},
            "waveform input of shape (1, 1, 16000)",
        ),
        ({"labels": ["a", "b"]}, "do not match the task's classes"),
        ({"weights": "missing.pt"}, "missing.pt: cannot load"),
        ({"shape": 3}, "unknown field(s) shape"),
    ],
)
def test_a_description_that_does_not_fit_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fields: dict, message: str
) -> None:
    spec = write_spec(tmp_path, **fields)
    out = tmp_path / "run"
    assert main(own_train_args(spec, out, tmp_path / "cache")) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "spec.json" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_description_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    from explainer.own_model import load_spec

    (tmp_path / "spec.json").write_text("{not json")
    with pytest.raises(UserError, match=r"spec.json: cannot read the model description"):
        load_spec(tmp_path / "spec.json", [str(d) for d in range(10)])
    assert pp.input_shape("logmel") == (64, 227)
