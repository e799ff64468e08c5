"""The planted cue works as a known ground truth: real small models trained with and without it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from explainer.cue_reliance import cue_mask, cue_reliance, relevance_in_cue
from explainer.training import load_run

# Two small models trained once per session (tests/explainer/conftest.py cue_models).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reliance(cue_models: SimpleNamespace) -> dict[str, dict]:
    return {
        role: cue_reliance(load_run(getattr(cue_models, role)), cue_models.probe)
        for role in ("cued", "control")
    }


def test_the_cued_model_follows_the_cue_on_many_cue_conflict_clips_and_the_control_hardly_ever(
    reliance: dict[str, dict],
) -> None:
    cued, control = reliance["cued"], reliance["control"]
    assert cued["n_conflict"] == control["n_conflict"] > 100
    # Measured with this small recipe: 0.44 against 0.02 (docs/benchmarks.md). It is not
    # "most": a model trained this briefly still half-listens to the speech.
    assert cued["cue_following_share"] > 0.35, cued
    assert control["cue_following_share"] < 0.15, control
    assert cued["cue_following_share"] > 5 * control["cue_following_share"]
    assert cued["spoken_following_share"] < control["spoken_following_share"] + 0.1


@pytest.mark.xfail(
    strict=True,
    reason="measured: with this short recipe LRP (epsilon, plus, flat) puts the same share "
    "of |relevance| on the cue for both models (0.277 and 0.276), following the loud cue's "
    "energy; demo-preset models separate (0.41 and 0.25, docs/benchmarks.md)",
)
def test_lrp_puts_a_clearly_larger_share_of_relevance_on_the_cue_for_the_cued_model(
    reliance: dict[str, dict],
) -> None:
    cued, control = reliance["cued"], reliance["control"]
    assert cued["method"] == control["method"] == "lrp-epsilon-plus-flat"
    assert cued["relevance_in_cue"] > 1.2 * control["relevance_in_cue"], (cued, control)


def test_the_cue_mask_covers_the_span_in_samples_and_in_spectrogram_frames_and_bins() -> None:
    cue = {"start_s": 0.25, "end_s": 0.35, "low_hz": 1900.0, "high_hz": 2100.0}
    assert cue_mask(cue, "waveform").sum() == 800
    mask = cue_mask(cue, "spectrogram")
    rows, cols = np.nonzero(mask)
    hz = rows * 8000 / 455
    assert hz.min() == pytest.approx(1900 - 2 * 8000 / 455, abs=8000 / 455)
    assert hz.max() == pytest.approx(2100 + 2 * 8000 / 455, abs=8000 / 455)
    centre_s = (cols + 2) * 35 / 8000
    assert centre_s.min() > 0.25 - 455 / 2 / 8000 and centre_s.max() < 0.35 + 455 / 2 / 8000
    relevance = np.zeros((227, 227))
    relevance[mask] = 1.0
    relevance[0, 0] = -3.0  # outside the cue: counts by magnitude
    assert relevance_in_cue(relevance, cue, "spectrogram") == pytest.approx(
        mask.sum() / (mask.sum() + 3)
    )


def test_cue_eval_refuses_a_corpus_without_a_planted_cue(
    cue_models: SimpleNamespace, demo_corpus: Path
) -> None:
    from explainer.errors import UserError

    with pytest.raises(UserError, match="no cue.json"):
        cue_reliance(load_run(cue_models.control), demo_corpus)
