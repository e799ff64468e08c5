"""The training recipe for real speech: preset choice, augmentation, early stopping, warnings, splits."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from explainer import run_files as rf
from explainer.augmentation import augment_waveform, mask_spectrogram
from explainer.cache import preprocess
from explainer.cli import main
from explainer.layouts import open_corpus
from explainer.splits import leave_one_speaker_out, resolve_splits
from explainer.trainer import training_warnings
from explainer.training import configs_from_args, configure_parser
from explainer.training_loop import Hyper, learning_rate, make_optimizer


def manifest_of(demo_table, root: Path, speakers: int = 6) -> Path:
    """A CSV manifest over the demo corpus's first speakers (real files, another layout)."""
    keep = demo_table.speakers()[:speakers]
    lines = ["path,label,speaker,sex"] + [
        f"{os.path.relpath(r.path, root)},{r.digit},{r.speaker},{r.sex}"
        for r in demo_table.where(speakers=keep)
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root / "corpus.csv"


def _args(data: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return parser.parse_args(["--data", str(data), "--out", "unused", *extra])


def test_auto_picks_the_speech_recipe_for_recordings_that_are_not_generated(
    demo_table, demo_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [demo] = configs_from_args(_args(demo_corpus), demo_table)
    assert demo.preset == "demo" and demo.augment == "none" and demo.patience is None
    assert "--model alexnet" not in capsys.readouterr().err
    manifest = manifest_of(demo_table, tmp_path)
    [speech] = configs_from_args(_args(manifest), open_corpus(manifest, progress=False))
    assert speech.preset == "speech" and speech.augment == "speech"
    # On a few speakers AudioNet, the default, is the weaker choice: the run says so.
    assert "for recordings of a few speakers, add --model alexnet" in capsys.readouterr().err
    configs_from_args(_args(manifest, "--model", "alexnet"), open_corpus(manifest, progress=False))
    assert "--model alexnet" not in capsys.readouterr().err
    # AudioNet's weight decay is 0: Adam's L2 at 1e-3 left it at chance (AlexNet keeps 1e-3).
    assert speech.weight_decay == 0.0 and speech.patience and speech.lr_schedule == "plateau"
    [override] = configs_from_args(
        _args(manifest, "--weight-decay", "1e-4", "--augment", "none"),
        open_corpus(manifest, progress=False),
    )
    assert override.weight_decay == 1e-4 and override.augment == "none"


def test_a_run_that_stays_at_chance_warns_stops_early_and_reports_each_test_speaker(
    demo_table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = manifest_of(demo_table, tmp_path / "corpus")
    out = tmp_path / "run"
    # A learning rate of 1e-30 leaves every weight as it was (1e-9 still moved the validation
    # loss by 2e-7 in some runs, which counts as better), so patience 1 stops after epoch 2 of 6.
    status = main(
        [
            "train", "--data", str(manifest), "--out", str(out), "--split", "loso:0",
            "--preset", "demo", "--width", "0.125", "--epochs", "6", "--placements", "1",
            "--lr", "1e-30", "--patience", "1", "--no-cache", "--workers", "1", "--quiet",
        ]
    )  # fmt: skip
    assert status == 0
    summary = rf.read_json(out / rf.SUMMARY_NAME)
    assert summary["stopped_early"] is True and summary["epochs"] == 2
    assert any("near chance" in w for w in summary["warnings"])
    assert "warning: validation accuracy stayed near chance" in capsys.readouterr().err
    [(speaker, row)] = summary["per_speaker_accuracy"].items()
    assert speaker == demo_table.speakers()[0] and row["n"] == summary["test_n"]
    assert row["accuracy"] == pytest.approx(summary["test_accuracy"])
    assert (out / rf.FIGURES_DIR / "speaker_accuracy.png").stat().st_size > 5000


def test_a_large_train_validation_gap_is_a_warning_and_a_good_run_gets_none() -> None:
    gap = training_warnings({"train_accuracy": 0.99, "val_accuracy": 0.47}, n_classes=10)
    assert len(gap) == 1 and "overfits" in gap[0] and "99.0%" in gap[0]
    assert training_warnings({"train_accuracy": 0.97, "val_accuracy": 0.93}, n_classes=10) == []


def test_leave_one_speaker_out_tests_each_speaker_once_and_validates_on_another() -> None:
    splits = leave_one_speaker_out(["f", "a", "c", "b", "e", "d"])
    assert [s.test for s in splits] == [(x,) for x in "abcdef"]
    assert all(len(s.train) == 4 and s.validate != s.test for s in splits)
    sexes = {s: "female" for s in "abcdef"}
    assert [s.name for s in resolve_splits("loso:all", task="digit", speaker_sexes=sexes)][:2] == [
        "loso:a",
        "loso:b",
    ]
    three = resolve_splits("kfold3:all", task="digit", speaker_sexes=sexes)
    assert len(three) == 3 and all(len(s.test) == 2 for s in three)


@pytest.mark.parametrize("kind", ["speech", "speech-wide"])
def test_speech_augmentation_is_reproducible_from_its_seed_and_changes_the_sound(
    kind: str,
) -> None:
    t = np.arange(8000) / 8000
    clip = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    copies = [augment_waveform(clip, np.random.default_rng(s), kind) for s in range(6)]
    again = augment_waveform(clip, np.random.default_rng(0), kind)
    np.testing.assert_array_equal(copies[0], again)
    assert all(c.shape == clip.shape and c.dtype == np.float32 for c in copies)
    assert sum(not np.allclose(c, clip) for c in copies) >= 3
    spec = np.zeros((227, 227), np.float32)
    spec[0, 0] = -80.0
    masked = mask_spectrogram(spec, np.random.default_rng(1), kind)
    assert (masked == -80.0).sum() > 1 and masked.shape == spec.shape


def test_the_wide_augmentation_masks_two_bands_of_each_kind_and_changes_other_copies() -> None:
    spec = np.ones((227, 227), np.float32)
    spec[0, 0] = 0.0

    def masked(kind: str) -> int:
        # Bands of random width (up to 24 each), summed over 20 seeds.
        rngs = (np.random.default_rng(s) for s in range(20))
        return sum(int((mask_spectrogram(spec, rng, kind) == 0).sum()) for rng in rngs)

    one, two = masked("speech"), masked("speech-wide")
    assert two > 1.5 * one
    t = np.arange(8000) / 8000
    clip = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    differs = [
        not np.allclose(
            augment_waveform(clip, np.random.default_rng(s), "speech"),
            augment_waveform(clip, np.random.default_rng(s), "speech-wide"),
        )
        for s in range(6)
    ]
    assert sum(differs) >= 3


def test_training_copies_are_augmented_and_evaluation_inputs_are_not(demo_table) -> None:
    clips = list(demo_table)[:4]
    plain = preprocess(clips, "waveform", seed=0, placements=2, progress=False)
    augmented = preprocess(
        clips, "waveform", seed=0, placements=2, augment="speech", progress=False
    )
    again = preprocess(clips, "waveform", seed=0, placements=2, augment="speech", progress=False)
    assert plain.key != augmented.key
    np.testing.assert_array_equal(augmented.inputs, again.inputs)
    np.testing.assert_array_equal(augmented.offsets, plain.offsets)
    assert not np.allclose(augmented.inputs, plain.inputs)


def test_the_plateau_schedule_scales_the_rate_and_the_others_ignore_the_scale() -> None:
    hyper = Hyper(0, 32, 1, None, "adam", 1e-3, 0.9, 0.0, None, lr_schedule="plateau")
    assert learning_rate(hyper, 5, 10, 0.25) == pytest.approx(2.5e-4)
    constant = Hyper(0, 32, 1, None, "adam", 1e-3, 0.9, 0.0, None)
    assert learning_rate(constant, 5, 10, 0.25) == 1e-3


def test_adamw_shrinks_weights_by_rate_times_decay_where_adam_moves_them_by_the_rate() -> None:
    # No data gradient: only the weight decay acts. Adam's L2 term is normalised like a
    # gradient (a step of about lr); AdamW's is decoupled (a step of lr * decay * weight).
    moved = {}
    for name in ("adam", "adamw"):
        layer = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.constant_(layer.weight, 2.0)
        optimizer = make_optimizer(layer, Hyper(0, 1, 1, None, name, 1e-2, 0.9, 0.1, None))
        layer.weight.grad = torch.zeros_like(layer.weight)
        optimizer.step()
        moved[name] = 2.0 - float(layer.weight)
    assert moved["adam"] == pytest.approx(1e-2, rel=1e-3)
    assert moved["adamw"] == pytest.approx(1e-2 * 0.1 * 2.0, rel=1e-4)


def test_the_speech_recipe_trains_alexnet_above_the_floor_at_a_tenth_of_the_rate(
    demo_table, tmp_path: Path
) -> None:
    from explainer.training import own_model_spec
    from tests.explainer.conftest import write_spec

    manifest = manifest_of(demo_table, tmp_path / "corpus")
    table = open_corpus(manifest, progress=False)
    [alexnet] = configs_from_args(_args(manifest, "--model", "alexnet"), table)
    assert alexnet.preset == "speech" and alexnet.lr == 1e-4 and alexnet.weight_decay == 1e-3
    assert alexnet.augment == "speech-wide"
    assert alexnet.input == alexnet.representation == "spectrogram-above-floor"
    [paper] = configs_from_args(
        _args(manifest, "--model", "alexnet", "--input", "spectrogram", "--lr", "1e-3"), table
    )
    assert paper.representation == "spectrogram" and paper.lr == 1e-3
    [audionet] = configs_from_args(_args(manifest), table)
    assert audionet.input is None and audionet.representation == "waveform"
    assert audionet.lr == 1e-3 and audionet.weight_decay == 0.0
    # An own model's description declares its front end; the preset's input does not apply.
    args = _args(manifest, "--model-spec", str(write_spec(tmp_path / "spec")))
    [own] = configs_from_args(args, table, own_model_spec(args))
    assert own.input is None and own.representation == "logmel"


def test_label_smoothing_trains_towards_softened_targets_and_is_recorded(
    demo_table, tmp_path: Path
) -> None:
    from explainer.errors import UserError
    from explainer.training_loop import train_step

    torch.manual_seed(0)
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    losses = {}
    for eps in (0.0, 0.2):
        torch.manual_seed(1)  # the same model for both targets
        model = torch.nn.Linear(5, 3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # the loss alone is compared
        losses[eps] = train_step(model, optimizer, x, y, None, eps)[0] / len(y)
    with torch.no_grad():
        log_p = torch.log_softmax(model(x), 1)
    soft = torch.full((8, 3), 0.2 / 3).scatter_(1, y[:, None], 1 - 0.2 + 0.2 / 3)
    assert losses[0.2] == pytest.approx(float(-(soft * log_p).sum(1).mean()), rel=1e-6)
    assert losses[0.0] == pytest.approx(float(-log_p.gather(1, y[:, None]).mean()), rel=1e-6)
    assert abs(losses[0.2] - losses[0.0]) > 1e-3
    manifest = manifest_of(demo_table, tmp_path)
    table = open_corpus(manifest, progress=False)
    [plain] = configs_from_args(_args(manifest), table)
    [smoothed] = configs_from_args(_args(manifest, "--label-smoothing", "0.1"), table)
    assert plain.label_smoothing == 0.0 and smoothed.label_smoothing == 0.1
    with pytest.raises(UserError, match=r"--label-smoothing must be in \[0, 1\), got 1.0"):
        configs_from_args(_args(manifest, "--label-smoothing", "1"), table)
