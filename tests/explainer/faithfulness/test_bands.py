"""The frequency-band test attenuates exactly one band at a time and reports the accuracy change."""

from __future__ import annotations

import numpy as np
import torch

from explainer import preprocessing as pp
from explainer.faithfulness.bands import band_edges, band_test
from explainer.faithfulness.experiment import Clips
from explainer.models import build_model


def test_each_band_is_attenuated_alone_and_the_relevance_marks_its_band() -> None:
    torch.manual_seed(0)
    model = build_model("alexnet", 10, width=0.125).eval()
    rng = np.random.default_rng(0)
    inputs = np.clip(rng.normal(-40, 15, size=(6, 227, 227)), -80, 0).astype(np.float32)
    with torch.no_grad():
        predicted = model(torch.from_numpy(inputs).unsqueeze(1)).argmax(1).numpy()
    labels = predicted.copy()
    labels[:3] = (labels[:3] + 1) % 10  # half right, half wrong
    relevance = np.zeros_like(inputs, dtype=np.float64)
    relevance[:, 60:80] = 1.0  # all relevance between bins 60 and 80: band 2 (57..85)
    clips = Clips(
        [str(i) for i in range(6)], inputs, labels, predicted, {"m": list(range(6))}, {}, [0] * 6
    )
    result = band_test(model, clips, {"m": relevance}, attenuation_db=30)
    edges = band_edges()
    assert edges[0][0] == 0 and edges[-1][1] == pp.N_FREQ and len(result["rows"]) == 8
    assert result["baseline_accuracy"] == 0.5
    for row, (lo, hi) in zip(result["rows"], edges, strict=True):
        attenuated = inputs.copy()
        attenuated[:, lo:hi] = np.maximum(attenuated[:, lo:hi] - 30, -80)
        with torch.no_grad():
            after = model(torch.from_numpy(attenuated).unsqueeze(1)).argmax(1).numpy()
        assert row["accuracy"] == round(float(np.mean(after == labels)), 6)
        assert row["accuracy_change"] == round(row["accuracy"] - 0.5, 6)
    assert [r["most_relevant_for"] for r in result["rows"]][2] == ["m"]
    assert sum(bool(r["most_relevant_for"]) for r in result["rows"]) == 1
