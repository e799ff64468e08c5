"""The batched perturbation curves and AOPC agree with a plain, slow reference written here.

The reference removes one region at a time with Python loops and runs one forward pass
per perturbed input, following Samek et al. (2017) literally. Real (seeded, untrained,
small) AudioNet and AlexNet: agreement is about the procedure, not about what a model
learned, so no training is needed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explainer import preprocessing as pp
from explainer.errors import UserError
from explainer.faithfulness.curves import Steps, perturbation_curves, region_order
from explainer.faithfulness.regions import region_map
from explainer.faithfulness.replacement import replacement_for
from explainer.faithfulness.settings import clip_rng
from explainer.faithfulness.summary import aopc, mean_with_ci
from explainer.models import build_model


def reference_aopc(model, x, relevance, target, labels, replacement, shares, order):
    """AOPC of one clip, plainly: region sums, a sorted order, one input per step."""
    n_regions = int(labels.max()) + 1
    sums = [float(relevance[labels == r].sum()) for r in range(n_regions)]
    if order == "morf":
        ranking = sorted(range(n_regions), key=lambda r: (-sums[r], r))
    else:
        ranking = sorted(range(n_regions), key=lambda r: (sums[r], r))
    probabilities = []
    for share in shares:
        count = int(round(share * n_regions))
        perturbed = x.copy()
        for region in ranking[:count]:
            perturbed[labels == region] = replacement[labels == region]
        with torch.no_grad():
            logits = model(torch.from_numpy(perturbed[None, None]).float())
        probabilities.append(float(torch.softmax(logits.double(), 1)[0, target]))
    return sum(probabilities[0] - p for p in probabilities) / len(probabilities)


@pytest.mark.parametrize(
    ("architecture", "representation", "kind"),
    [
        ("audionet", "waveform", "zero"),
        ("audionet", "waveform", "noise"),
        ("alexnet", "spectrogram", "mean"),
    ],
)
def test_batched_aopc_equals_the_plain_reference(
    architecture: str, representation: str, kind: str
) -> None:
    torch.manual_seed(3)
    model = build_model(architecture, 10, width=0.125).eval()
    rng = np.random.default_rng(5)
    shape = pp.input_shape(representation)
    inputs = rng.normal(size=(3, *shape)).astype(np.float32)
    if representation == "spectrogram":
        inputs = np.clip(inputs * 20 - 40, -80, 0).astype(np.float32)
    relevance = rng.normal(size=inputs.shape)
    targets = np.array([0, 4, 9])
    regions = region_map(representation)
    steps = Steps(0.1, 0.4)
    fills = np.stack(
        [
            replacement_for(x, representation, kind, clip_rng(0, str(i), 1))
            for i, x in enumerate(inputs)
        ]
    )
    scores = regions.scores(relevance)
    orders = np.stack([[region_order(s, o, rng) for o in ("morf", "lerf")] for s in scores])
    curves = perturbation_curves(
        model, inputs, targets, orders, fills, regions, steps.counts(regions.n_regions), batch=7
    )
    for i in range(3):
        for o, order in enumerate(("morf", "lerf")):
            expected = reference_aopc(
                model,
                inputs[i],
                relevance[i],
                targets[i],
                regions.labels,
                fills[i],
                steps.shares,
                order,
            )
            assert aopc(curves.probability[i, o][None])[0] == pytest.approx(expected, abs=1e-6)


def test_steps_run_from_nothing_removed_to_the_maximum_share() -> None:
    steps = Steps(0.05, 0.5)
    assert (
        steps.shares[0] == 0 and steps.shares[-1] == pytest.approx(0.5) and len(steps.shares) == 11
    )
    assert steps.counts(100).tolist() == list(range(0, 51, 5))


@pytest.mark.parametrize(("step", "maximum"), [(0.0, 0.5), (-0.1, 0.5), (0.2, 0.1), (0.1, 1.5)])
def test_a_step_or_maximum_out_of_range_is_refused(step: float, maximum: float) -> None:
    with pytest.raises(UserError, match="--step-share|--max-share"):
        Steps(step, maximum)


def test_regions_tile_the_input_into_a_hundred_segments_or_patches() -> None:
    wave, spec = region_map("waveform"), region_map("spectrogram")
    assert wave.n_regions == 100 and np.bincount(wave.labels).tolist() == [80] * 100
    assert wave.record["region_ms"] == 10.0
    assert spec.n_regions == 100 and spec.labels.shape == (227, 227)
    assert np.bincount(spec.labels.ravel()).sum() == 227 * 227
    assert spec.record["patch"] == {"bins": 23, "frames": 23}


def test_a_log_mel_input_is_tiled_over_its_own_shape() -> None:
    mel = region_map("logmel")
    assert mel.labels.shape == (64, 227) and mel.n_regions == 100
    assert mel.record["patch"] == {"bins": 7, "frames": 23} and "patch_hz" not in mel.record
    assert mel.scores(np.ones((2, 64, 227))).sum() == 2 * 64 * 227


def test_the_bootstrap_interval_covers_the_mean_and_is_seeded() -> None:
    values = np.random.default_rng(1).normal(0.3, 0.1, size=40)
    a, b = mean_with_ci(values, seed=2), mean_with_ci(values, seed=2)
    assert a == b and a["ci_low"] < a["mean"] < a["ci_high"]
    assert a["mean"] == pytest.approx(values.mean(), abs=1e-6)


def test_the_random_order_depends_only_on_the_seed_and_the_recording() -> None:
    one = region_order(np.zeros(100), "random", clip_rng(0, "02/1_02_0.wav", 0))
    two = region_order(np.zeros(100), "random", clip_rng(0, "02/1_02_0.wav", 0))
    other = region_order(np.zeros(100), "random", clip_rng(1, "02/1_02_0.wav", 0))
    assert one.tolist() == two.tolist() and one.tolist() != other.tolist()
