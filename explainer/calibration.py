"""Temperature scaling (Guo et al., 2017), softening only: fairer probabilities for new voices.

A network trained on a few speakers is often sure of itself on voices it has not heard
(issue 16 saw phone recordings classified wrongly with probability near 1). A run
divides its logits by one temperature, fitted on the validation speakers by minimising
their cross-entropy; the argmax, so every decision, is unchanged. Only a temperature
above 1 (softer probabilities) is applied: where the fitted one is below 1 the model
was unsure on validation speakers like its training ones, and sharpening it made it
surer on voices unlike them. Measured with ``benchmarks/cross_engine.py --quick
--model alexnet --presets speech --arms espeak`` (2026-12-07): fitted 0.44 on
held-out espeak-ng voices (91 % correct), it raised the mean confidence of wrong
answers on flite voices from 0.37 to 0.59 and their expected calibration error from
0.14 to 0.34. ``summary.json`` records the fitted and the applied temperature and, on
the test speakers (not used for the fit), the expected calibration error and
cross-entropy before and after; ``predict`` reports the scaled probabilities. The
validation speakers also chose the kept epoch, so the fit sees slightly optimistic
logits, as in Guo et al.

Written here rather than taken from netcal (``TemperatureScaling``, ``ECE``): netcal 1.4
requires pyro-ppl, gpytorch, tensorboard and scikit-learn, for what is a bounded
one-parameter minimisation with SciPy and a 15-bin histogram.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ECE_BINS = 15  # equal-width confidence bins, as in Guo et al.
LOG_T_BOUNDS = (-4.0, 4.0)  # T from 0.018 to 55


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities ``(n, n_classes)`` of ``logits / temperature``, in float64."""
    from scipy.special import softmax as scipy_softmax

    return scipy_softmax(np.asarray(logits, np.float64) / temperature, axis=1)


def cross_entropy(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-probability of the true class."""
    from scipy.special import log_softmax

    log_p = log_softmax(np.asarray(logits, np.float64) / temperature, axis=1)
    return float(-np.mean(log_p[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the cross-entropy of ``logits`` for ``labels``."""
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(
        lambda log_t: cross_entropy(logits, labels, float(np.exp(log_t))),
        bounds=LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Sum over equal-width confidence bins of (share of clips) x |accuracy - mean confidence|."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    error = 0.0
    for b in np.unique(bins):
        inside = bins == b
        error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(error)


def calibration_record(
    validate: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]
) -> dict[str, Any]:
    """The summary's ``calibration``: the temperature fitted on ``validate`` (logits, labels),
    the one applied (at least 1), judged on ``test``."""
    fitted = fit_temperature(*validate)
    temperature = max(1.0, fitted)
    logits, labels = test
    judged = {
        f"test_{name}_{when}": round(value, 6)
        for when, t in (("before", 1.0), ("after", temperature))
        for name, value in (
            ("ece", expected_calibration_error(softmax(logits, t), labels)),
            ("cross_entropy", cross_entropy(logits, labels, t)),
        )
    }
    return {
        "method": "temperature scaling",
        "fitted_temperature": round(fitted, 6),
        "temperature": round(temperature, 6),
        "fitted_on": f"validation speakers ({len(validate[1])} clips)",
        "ece_bins": ECE_BINS,
        **judged,
    }


def run_temperature(summary: dict[str, Any]) -> float:
    """A run's temperature; 1 for a run without one (given weights, or from before)."""
    return float((summary.get("calibration") or {}).get("temperature", 1.0))
