"""Temperature scaling of a run's probabilities (``explainer.calibration``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from explainer import calibration as cal


def _drawn(temperature: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits, and labels drawn from softmax(logits / temperature): a model whose logits
    are ``temperature`` times too large."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 4.0, size=(n, 10))
    p = cal.softmax(logits, temperature)
    labels = np.array([rng.choice(10, p=row) for row in p])
    return logits, labels


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.5])
def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with(temperature: float) -> None:
    logits, labels = _drawn(temperature, 20_000, seed=int(temperature * 10))
    assert cal.fit_temperature(logits, labels) == pytest.approx(temperature, rel=0.05)


def test_scaling_keeps_every_decision_and_lowers_the_error_on_new_clips() -> None:
    fit, judged = _drawn(3.0, 5_000, seed=1), _drawn(3.0, 5_000, seed=2)
    record = cal.calibration_record(fit, judged)
    t = record["temperature"]
    logits = judged[0]
    assert (cal.softmax(logits, t).argmax(1) == logits.argmax(1)).all()
    assert record["test_ece_after"] < 0.03 < 0.2 < record["test_ece_before"]
    assert record["test_cross_entropy_after"] < record["test_cross_entropy_before"]
    assert record["fitted_on"] == "validation speakers (5000 clips)"


def test_a_temperature_below_one_is_fitted_but_not_applied() -> None:
    """An unsure model (labels drawn from sharper probabilities) is not made surer."""
    record = cal.calibration_record(_drawn(0.5, 5_000, seed=3), _drawn(0.5, 2_000, seed=4))
    assert record["fitted_temperature"] == pytest.approx(0.5, rel=0.1)
    assert record["temperature"] == 1.0
    assert record["test_ece_after"] == record["test_ece_before"]


def test_the_expected_calibration_error_is_the_binned_gap() -> None:
    # Ten clips at confidence 0.9, seven right (gap 0.2); ten at 0.55, five right (gap 0.05).
    sure = np.tile([0.9, 0.1], (10, 1))
    unsure = np.tile([0.55, 0.45], (10, 1))
    labels = np.array([0] * 7 + [1] * 3 + [0] * 5 + [1] * 5)
    ece = cal.expected_calibration_error(np.vstack([sure, unsure]), labels)
    assert ece == pytest.approx(0.5 * 0.2 + 0.5 * 0.05)


def test_cross_entropy_is_the_mean_negative_log_probability() -> None:
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    labels = np.array([0, 1])
    expected = -np.mean(np.log(cal.softmax(logits, 2.0)[[0, 1], labels]))
    assert cal.cross_entropy(logits, labels, 2.0) == pytest.approx(expected)


def test_a_trained_run_records_its_temperature_and_how_it_did_on_the_test_speakers(
    trained_run: Path,
) -> None:
    summary = json.loads((trained_run / "summary.json").read_text())
    record = summary["calibration"]
    assert record["method"] == "temperature scaling" and record["fitted_temperature"] > 0
    assert record["temperature"] == max(1.0, record["fitted_temperature"])
    for key in ("ece", "cross_entropy"):
        assert record[f"test_{key}_before"] >= 0 and record[f"test_{key}_after"] >= 0
    assert record["test_cross_entropy_before"] == pytest.approx(summary["test_loss"], abs=1e-5)
    assert cal.run_temperature(summary) == record["temperature"]
    assert cal.run_temperature({"calibration": None}) == 1.0
