"""A researcher's own waveform model declared at another sample rate and window.

The pipeline's window (one second at 8 kHz) is resampled to the model's rate and centred
in its window (``explainer.own_model.AtModelRate``); relevance comes back onto the 8 kHz
window through the resampler.
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import EpsilonPlusFlat

from contracts import bundle_format as bf
from explainer import bundle as eb
from explainer.cli import main
from explainer.own_model import AtModelRate
from explainer.relevance import explain
from explainer.selection import Design
from explainer.training import load_run
from tests.explainer import own_models
from tests.explainer.conftest import DEMO_CORPUS, WAVE_16K, own_train_args, write_spec


def _model_at(rate: int, window: int) -> AtModelRate:
    """The waveform CNN behind the front end, in float64, with BatchNorm statistics that
    are not the identity (so the canonizer's merge matters)."""
    torch.manual_seed(0)
    model = own_models.waveform_cnn().double().eval()
    for layer in model.modules():
        if isinstance(layer, torch.nn.BatchNorm1d):
            layer.running_var.uniform_(0.5, 2.0)
            layer.bias.data.uniform_(-0.5, 0.5)
    return AtModelRate(model, rate, window).double().eval()


def test_the_model_reads_its_own_rate_and_window() -> None:
    tone = torch.sin(2 * torch.pi * 440 * torch.arange(8000) / 8000).double()[None, None]
    seen = _model_at(16000, 24000).front_end(tone)
    assert seen.shape == (1, 1, 24000)
    # One second of 440 Hz at 16 kHz, centred: half a second of zeros either side.
    assert seen[..., :4000].abs().max() == 0 and seen[..., -4000:].abs().max() == 0
    spectrum = np.abs(np.fft.rfft(seen[0, 0, 4000:20000].numpy()))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1  # 1 Hz bins over one second


@pytest.mark.parametrize(("rate", "window"), [(16000, 16000), (22050, 44100)])
def test_its_lrp_is_zennits_result_on_the_models_input_carried_back(rate: int, window: int) -> None:
    wrapped = _model_at(rate, window)
    x = torch.randn(3, 1, 8000, dtype=torch.float64)
    ours = explain(wrapped, x, "lrp-epsilon-plus-flat", params={"implementation": "zennit"})
    assert ours.relevance.shape == x.shape

    # zennit on the researcher's model alone, fed what the front end gives it ...
    seen = wrapped.front_end(x).detach().requires_grad_(True)
    seed = torch.eye(10, dtype=torch.float64)[ours.targets] * ours.logits
    model = copy.deepcopy(wrapped.model)
    with Gradient(model, EpsilonPlusFlat(canonizers=[SequentialMergeBatchNorm()])) as attributor:
        _, on_model_input = attributor(seen, seed)
    # ... then carried back onto the 8 kHz window by the resampler's transpose.
    x_ = x.clone().requires_grad_(True)
    (reference,) = torch.autograd.grad(wrapped.front_end(x_), x_, on_model_input)
    scale = reference.abs().max()
    assert scale > 0
    assert (ours.relevance - reference).abs().max() < 1e-6 * scale
    # The transport keeps the total on the resampled second; what a flat first-layer rule
    # puts on the zeros around it (a window longer than a second) is on no audio, and dropped.
    pad = window - rate
    on_audio = on_model_input[..., pad // 2 : pad // 2 + rate].sum((1, 2))
    torch.testing.assert_close(ours.relevance.sum((1, 2)), on_audio, rtol=1e-3, atol=1e-9)


def test_a_16khz_model_trains_predicts_bundles_and_keeps_its_own_state_dict(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, **WAVE_16K)
    run = tmp_path / "run"
    assert main(own_train_args(spec, run, tmp_path / "cache", "--epochs", "1")) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model_spec"]["sample_rate"] == 16000

    loaded = load_run(run)
    assert isinstance(loaded.model, AtModelRate)
    # model.pt is the researcher's network's own state dict: it loads into the factory's model.
    state = torch.load(run / "model.pt", weights_only=True)
    own_models.waveform_cnn().load_state_dict(state)

    wav = tmp_path / "seven.wav"
    first = next(DEMO_CORPUS.rglob("7_*.wav"))
    audio, rate = sf.read(first)
    sf.write(wav, audio, rate)
    out = tmp_path / "predicted.csv"
    assert main(["predict", "--run", str(run), str(wav), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 1 and rows[0]["predicted"] in [str(d) for d in range(10)]
    probabilities = [float(rows[0][f"p_{d}"]) for d in range(10)]
    assert abs(sum(probabilities) - 1) < 1e-3

    design = Design(n_decisions=2, practice=0, methods=("lrp-epsilon-plus-flat",))
    eb.write_bundle(eb.plan_bundle(run, DEMO_CORPUS, design, seed=1), tmp_path / "bundle")
    assert eb.validate_bundle(tmp_path / "bundle") == []
    model = bf.read_manifest(tmp_path / "bundle")["model"]
    assert (model["sample_rate"], model["window_samples"]) == (16000, 16000)
