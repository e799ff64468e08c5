"""Bundles for informative studies: cue, decision basis, two models, heard-label baselines."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from contracts import bundle_format as bf
from explainer.cli import main
from explainer.cue_reliance import decision_basis
from explainer.training import load_run

# Two small models trained once per session (tests/explainer/conftest.py cue_models).
pytestmark = pytest.mark.slow


def _bundle(cue_models: SimpleNamespace, out: Path, *extra: str) -> int:
    args = ["bundle", "--run", str(cue_models.cued), "--data", str(cue_models.probe)]
    return main([*args, "--out", str(out), "--seed", "0", *extra])


@pytest.fixture(scope="module")
def compared(
    cue_models: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """A bundle of the cued model compared with the control, and what the command printed."""
    out = tmp_path_factory.mktemp("compared") / "bundle"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = _bundle(
            cue_models,
            out,
            "--n",
            "10",
            "--practice",
            "1",
            "--compare-run",
            str(cue_models.control),
            # The short-trained cued model may get a cell's correct decisions all wrong
            # (one training had no correct 4): filling keeps this test about the comparison.
            "--shortfall",
            "fill",
        )
    assert status == 0, err.getvalue()
    return out, err.getvalue()


def test_a_compared_bundle_explains_the_same_clips_with_the_cued_and_the_control_model(
    compared: tuple[Path, str],
) -> None:
    manifest = bf.read_manifest(compared[0])
    assert manifest["model"]["role"] == "cued"
    assert manifest["models"]["control"]["role"] == "control"
    assert manifest["models"]["control"]["weights_sha256"] != manifest["model"]["weights_sha256"]
    by_model: dict[Any, list[str]] = {}
    for stim in manifest["stimuli"]:
        by_model.setdefault(stim.get("model_id"), []).append(stim["source"]["recording"])
    assert set(by_model) == {None, "control"}
    assert by_model[None] == by_model["control"] and len(by_model[None]) == 11
    assert manifest["cue"]["classes"] == {"3": 3200.0, "7": 2400.0}


def test_every_stimulus_says_where_its_cue_is_and_what_explains_the_decision(
    compared: tuple[Path, str], cue_models: SimpleNamespace
) -> None:
    manifest = bf.read_manifest(compared[0])
    clips = json.loads((cue_models.probe / "cue.json").read_text())["clips"]
    for stim in manifest["stimuli"]:
        clip = clips.get(stim["source"]["recording"])
        cue = stim["cue"]
        assert cue["present"] == (clip is not None)
        if clip is not None:
            shift = stim["source"]["offset_samples"] / 8000
            assert cue["class"] == clip["class"]
            assert cue["start_s"] == pytest.approx(clip["start_s"] + shift, abs=1e-5)
            assert 0 <= stim["relevance_in_cue"] <= 1
        else:
            assert "relevance_in_cue" not in stim
        assert stim["decision_basis"] == decision_basis(
            stim["true_label"], stim["predicted_label"], cue["class"]
        )


def test_relevance_in_cue_is_the_share_of_relevance_magnitude_in_the_cue_samples(
    compared: tuple[Path, str], cue_models: SimpleNamespace
) -> None:
    import torch

    from explainer.relevance import explain

    manifest = bf.read_manifest(compared[0])
    stim = next(s for s in manifest["stimuli"] if s["cue"]["present"] and "model_id" not in s)
    run = load_run(cue_models.cued)
    recording = stim["source"]["recording"]
    _, model_input, offset = run.prepare(cue_models.probe / recording, recording)
    assert offset == stim["source"]["offset_samples"]
    target = torch.tensor([run.classes.index(stim["predicted_label"])])
    relevance = explain(
        run.model, torch.from_numpy(model_input[None, None]), stim["method"], targets=target
    ).relevance.numpy()[0, 0]
    start, end = round(stim["cue"]["start_s"] * 8000), round(stim["cue"]["end_s"] * 8000)
    share = np.abs(relevance[start:end]).sum() / np.abs(relevance).sum()
    assert stim["relevance_in_cue"] == pytest.approx(share, abs=1e-4)


def test_label_audible_is_what_the_control_model_decides_from_the_audible_heatmap_file(
    compared: tuple[Path, str], cue_models: SimpleNamespace
) -> None:
    import torch

    from explainer import preprocessing as pp

    bundle, _ = compared
    manifest = bf.read_manifest(bundle)
    control = load_run(cue_models.control)
    agree = 0
    for stim in manifest["stimuli"]:
        audio, rate = sf.read(bundle / stim["files"]["audible_heatmap"]["path"], dtype="float32")
        assert rate == 8000
        with torch.no_grad():
            logits = control.model(torch.from_numpy(pp.model_input(audio, "waveform")[None, None]))
        heard = control.classes[int(logits.argmax())]
        agree += (heard == stim["true_label"]) == stim["label_audible"]["value"]
        assert "control model" in stim["label_audible"]["how"]
    # The file is the loudness-matched, 16-bit copy of what was recognised: nearly always the same.
    assert agree >= 0.9 * len(manifest["stimuli"])


def test_the_heard_label_baseline_is_recorded_per_task_and_warned_about_at_0_9(
    compared: tuple[Path, str],
) -> None:
    bundle, err = compared
    manifest = bf.read_manifest(bundle)
    baseline = manifest["heard_label_baseline"]
    main_stimuli = [s for s in manifest["stimuli"] if not s["practice"]]
    assert baseline["forward_simulation"]["value"] == pytest.approx(
        np.mean([s["correct"] for s in main_stimuli]), abs=1e-6
    )
    assert baseline["verification"]["value"] == 1.0
    assert 0 <= baseline["explanation_only"]["value"] <= 1
    warnings = [line for line in err.splitlines() if "heard-label baseline" in line]
    assert any(
        line.startswith("warning: heard-label baseline for verification is 100%")
        for line in warnings
    )
    forward_warned = any("for forward_simulation" in line for line in warnings)
    assert forward_warned == (baseline["forward_simulation"]["value"] >= 0.9)


def test_a_design_the_candidates_cannot_meet_fails_with_one_line_and_writes_nothing(
    cue_models: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle"
    assert _bundle(cue_models, out, "--n", "400", "--incorrect-fraction", "0.5") == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: too few candidates for the requested design: class ")
    assert "--shortfall fill" in error and "python -m explainer degrade" in error
    assert not out.exists() and not list(tmp_path.iterdir())


def test_fill_is_an_explicit_choice_reported_in_one_summary_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from explainer.bundle.cli import warn_shortfall

    short = [
        "class 3 incorrect: 2 requested, 0 available",
        "class 7 correct: 2 requested, 1 available",
    ]
    warn_shortfall({"selection": {"shortfall": short}})
    assert capsys.readouterr().err.splitlines() == [
        "warning: --shortfall fill: 2 cell(s) had too few candidates and were filled from the "
        "same class's other cell: " + "; ".join(short)
    ]
    warn_shortfall({"selection": {"shortfall": []}})
    assert capsys.readouterr().err == ""


def test_an_accuracy_milestone_checkpoint_is_explained_and_recorded_as_a_source_of_errors(
    cue_models: SimpleNamespace, tmp_path: Path
) -> None:
    from explainer.milestones import milestone_runs

    milestones = milestone_runs(cue_models.cued)
    assert milestones, "the cued run kept no milestone checkpoints"
    first = json.loads((milestones[0] / "summary.json").read_text())
    out = tmp_path / "bundle"
    extra = [
        "--n",
        "4",
        "--shortfall",
        "fill",
        "--checkpoint-accuracy",
        str(first["test_accuracy"]),
    ]
    assert _bundle(cue_models, out, *extra) == 0
    manifest = bf.read_manifest(out)
    assert manifest["model"]["weights_sha256"] == first["weights_sha256"]
    source = manifest["selection"]["wrong_decision_sources"]["checkpoint"]
    assert source["milestone"] == first["milestone"]["milestone"]
    assert manifest["model"]["test_accuracy"] == pytest.approx(first["test_accuracy"], abs=1e-6)
