"""Training runs: determinism, resume after interruption, keep-best, the run folder, errors."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explainer import run_files as rf
from explainer.cli import main
from explainer.training import configs_from_args, configure_parser, load_run

TINY = ["--width", "0.125", "--epochs", "2", "--placements", "1", "--batch-size", "32", "--quiet"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def _train(demo_corpus: Path, out: Path, cache: Path, *extra: str) -> int:
    return main(
        [
            "train",
            "--data",
            str(demo_corpus),
            "--out",
            str(out),
            "--cache-dir",
            str(cache),
            "--workers",
            "1",
            *TINY,
            *extra,
        ]
    )


def _metrics(run: Path) -> list[dict[str, str]]:
    rows = rf.read_csv(run / rf.METRICS_NAME)
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


@pytest.fixture(scope="module")
def whole_run(demo_corpus: Path, cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run, trained without interruption (seed 0)."""
    out = tmp_path_factory.mktemp("whole") / "run"
    assert _train(demo_corpus, out, cache) == 0
    return out


def test_two_runs_with_the_same_seed_give_identical_weights(
    demo_corpus: Path, cache: Path, tmp_path: Path, whole_run: Path
) -> None:
    assert _train(demo_corpus, tmp_path / "same", cache, "--seed", "0") == 0
    assert _train(demo_corpus, tmp_path / "other", cache, "--seed", "1") == 0
    whole = rf.sha256_of(whole_run / rf.MODEL_NAME)
    assert rf.sha256_of(tmp_path / "same" / rf.MODEL_NAME) == whole
    assert rf.sha256_of(tmp_path / "other" / rf.MODEL_NAME) != whole
    assert _metrics(tmp_path / "same") == _metrics(whole_run)


@pytest.mark.parametrize("epoch_share", [0.3, 1.5])
def test_an_interrupted_run_resumes_to_the_weights_of_an_uninterrupted_one(
    demo_corpus: Path, cache: Path, tmp_path: Path, whole_run: Path, epoch_share: float
) -> None:
    # Stop inside the first epoch, then inside the second (after a validation and a best save).
    steps_per_epoch = int(rf.read_csv(whole_run / rf.METRICS_NAME)[0]["step"])
    stop_after = int(epoch_share * steps_per_epoch)
    cut = tmp_path / "cut"
    assert _train(demo_corpus, cut, cache, "--stop-after", str(stop_after)) == 3
    assert (cut / rf.CHECKPOINT_NAME).is_file() and not (cut / rf.SUMMARY_NAME).exists()
    assert (
        main(
            [
                "train",
                "--data",
                str(demo_corpus),
                "--out",
                str(cut),
                "--cache-dir",
                str(cache),
                "--resume",
                "--quiet",
            ]
        )
        == 0
    )
    assert rf.sha256_of(cut / rf.MODEL_NAME) == rf.sha256_of(whole_run / rf.MODEL_NAME)
    assert _metrics(cut) == _metrics(whole_run)
    assert not (cut / rf.CHECKPOINT_NAME).exists()


def test_resuming_refuses_a_corpus_that_changed(
    demo_corpus: Path, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    corpus = shutil.copytree(demo_corpus, tmp_path / "corpus")
    cut = tmp_path / "cut"
    assert _train(corpus, cut, cache, "--stop-after", "2") == 3
    shutil.copy(corpus / "02" / "1_02_0.wav", corpus / "02" / "2_02_0.wav")
    assert (
        main(
            [
                "train",
                "--data",
                str(corpus),
                "--out",
                str(cut),
                "--cache-dir",
                str(cache),
                "--resume",
                "--quiet",
            ]
        )
        == 2
    )
    assert "fingerprint changed" in _error_line(capsys)


def test_the_run_folder_holds_weights_config_metrics_predictions_and_figures(
    trained_run: Path,
) -> None:
    for name in (
        rf.MODEL_NAME,
        rf.CONFIG_NAME,
        rf.METRICS_NAME,
        rf.SUMMARY_NAME,
        rf.PREDICTIONS_NAME,
    ):
        assert (trained_run / name).is_file(), name
    config = rf.read_json(trained_run / rf.CONFIG_NAME)
    assert (config["seed"], config["architecture"], config["task"], config["width"]) == (
        0,
        "audionet",
        "digit",
        0.125,
    )
    assert len(config["data"]["fingerprint"]) == 64 and config["data"]["split"]["test"]
    metrics = rf.read_csv(trained_run / rf.METRICS_NAME)
    assert [int(r["epoch"]) for r in metrics] == [1, 2, 3]
    for figure in ("learning_curves.png", "confusion_matrix.png"):
        with Image.open(trained_run / "figures" / figure) as image:
            assert image.format == "PNG" and image.size[0] > 300


def test_the_summary_agrees_with_the_test_predictions(trained_run: Path) -> None:
    summary = rf.read_json(trained_run / rf.SUMMARY_NAME)
    with open(trained_run / rf.PREDICTIONS_NAME, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert summary["test_n"] == len(rows) == np.sum(summary["confusion_matrix"])
    assert summary["test_accuracy"] == pytest.approx(np.mean([int(r["correct"]) for r in rows]))
    assert np.trace(summary["confusion_matrix"]) == sum(int(r["correct"]) for r in rows)
    test_speakers = set(rf.read_json(trained_run / rf.CONFIG_NAME)["split"]["test"])
    assert {r["speaker"] for r in rows} == test_speakers


def test_load_run_gives_the_kept_weights_ready_to_predict(trained_run: Path, demo_table) -> None:
    trained = load_run(trained_run)
    assert not trained.model.training and next(trained.model.parameters()).dtype == torch.float32
    assert trained.weights_sha256 == rf.sha256_of(trained_run / rf.MODEL_NAME)
    assert trained.classes == [str(d) for d in range(10)] and trained.representation == "waveform"
    assert trained.test_accuracy == rf.read_json(trained_run / rf.SUMMARY_NAME)["test_accuracy"]
    assert set(trained.data_description) >= {"description", "fingerprint", "n_recordings", "split"}
    # Re-preparing the test clips reproduces the logits the run wrote.
    rows = rf.read_csv(trained_run / rf.PREDICTIONS_NAME)[:5]
    by_relpath = {r.relpath: r for r in demo_table}
    inputs = np.stack(
        [trained.prepare(by_relpath[r["relpath"]].path, r["relpath"])[1] for r in rows]
    )
    logits = trained.predict(inputs)
    expected = np.array([[float(r[f"logit_{c}"]) for c in trained.classes] for r in rows])
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)


def test_the_kept_weights_are_those_of_the_best_validation_epoch(
    trained_run: Path, demo_table
) -> None:
    from explainer.cache import preprocess

    trained = load_run(trained_run)
    validate = demo_table.where(speakers=trained.config["split"]["validate"])
    pre = preprocess(list(validate), "waveform", seed=0, cache_dir=None, progress=False)
    labels = np.array([int(r.digit) for r in validate])
    accuracy = float(np.mean(trained.predict(pre.inputs[:, 0]).argmax(1) == labels))
    metrics = rf.read_csv(trained_run / rf.METRICS_NAME)
    best = [r for r in metrics if r["best"] == "1"][-1]
    assert accuracy == pytest.approx(float(best["val_accuracy"]))
    assert rf.read_json(trained_run / rf.SUMMARY_NAME)["best_epoch"] == int(best["epoch"])


def test_the_data_description_fits_the_bundle_contract(trained_run: Path) -> None:
    import jsonschema

    from contracts.bundle_format import manifest_schema

    trained = load_run(trained_run)
    schema = manifest_schema()["properties"]["model"]
    model = {
        "architecture": trained.architecture,
        "task": trained.task,
        "input": trained.representation,
        "classes": trained.classes,
        "weights_sha256": trained.weights_sha256,
        "test_accuracy": trained.test_accuracy,
        "training_data": trained.data_description,
    }
    jsonschema.Draft202012Validator(
        {**schema, "$defs": manifest_schema().get("$defs", {})}
    ).validate(model)


def test_an_alexnet_run_reads_spectrograms(trained_alexnet_run: Path) -> None:
    trained = load_run(trained_alexnet_run)
    assert trained.architecture == "alexnet" and trained.representation == "spectrogram"
    assert 0.0 <= trained.test_accuracy <= 1.0


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return parser.parse_args(["--data", "x", "--out", "y", *argv])


@pytest.mark.parametrize(
    ("model", "lr", "steps", "clip"),
    [("audionet", 1e-4, 50_000, None), ("alexnet", 1e-3, 10_000, 5.0)],
)
def test_the_paper_preset_uses_the_papers_solver(
    demo_table, model: str, lr: float, steps: int, clip: float | None
) -> None:
    (config,) = configs_from_args(_parse("--model", model, "--preset", "paper"), demo_table)
    assert (config.optimizer, config.lr, config.momentum, config.batch_size) == (
        "sgd",
        lr,
        0.9,
        100,
    )
    assert (config.max_steps, config.grad_clip, config.width, config.placements) == (
        steps,
        clip,
        1.0,
        1,
    )


def test_options_override_the_preset_and_all_splits_give_one_config_each(demo_table) -> None:
    configs = configs_from_args(
        _parse("--preset", "paper", "--lr", "0.01", "--split", "generic:all"), demo_table
    )
    assert len(configs) == 5 and {c.lr for c in configs} == {0.01}
    assert len({c.split["name"] for c in configs}) == 5


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1]


def test_it_reports_a_missing_corpus_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "run")]) == 2
    assert (
        _error_line(capsys) == f"error: {tmp_path / 'nope'}: no such corpus folder or CSV manifest"
    )


def test_it_refuses_to_overwrite_a_run_without_force(
    demo_corpus: Path, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / rf.CONFIG_NAME).write_text("{}")
    assert _train(demo_corpus, out, cache) == 2
    line = _error_line(capsys)
    assert "run folder is not empty" in line and "--force" in line
    (out / "notes.txt").write_text("mine")
    assert _train(demo_corpus, out, cache, "--force") == 2
    assert "not part of a run (notes.txt)" in _error_line(capsys)
    (out / "notes.txt").unlink()
    assert _train(demo_corpus, out, cache, "--force") == 0
    assert (out / rf.SUMMARY_NAME).is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--width", "-1"], "--width must be positive"),
        (["--split", "paper:0"], "use --split generic"),
        (["--split", "generic:9"], "choose a split 0..4"),
    ],
)
def test_it_rejects_bad_options_in_one_line(
    demo_corpus: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    assert (
        main(["train", "--data", str(demo_corpus), "--out", str(tmp_path / "r"), "--quiet", *argv])
        == 2
    )
    assert message in _error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_resuming_a_finished_run_changes_nothing(
    trained_run: Path, demo_corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = rf.sha256_of(trained_run / rf.MODEL_NAME)
    assert (
        main(
            ["train", "--data", str(demo_corpus), "--out", str(trained_run), "--resume", "--quiet"]
        )
        == 0
    )
    assert "already finished" in capsys.readouterr().err
    assert rf.sha256_of(trained_run / rf.MODEL_NAME) == before


def test_alexnet_takes_the_input_above_the_floor_and_records_it(demo_table) -> None:
    from explainer.errors import UserError

    (config,) = configs_from_args(
        _parse("--model", "alexnet", "--input", "spectrogram-above-floor"), demo_table
    )
    assert config.input == "spectrogram-above-floor"
    assert config.representation == "spectrogram-above-floor"
    (default,) = configs_from_args(_parse("--model", "alexnet"), demo_table)
    assert default.representation == "spectrogram"
    with pytest.raises(UserError, match="--input applies to --model alexnet only"):
        configs_from_args(_parse("--model", "audionet", "--input", "spectrogram"), demo_table)
