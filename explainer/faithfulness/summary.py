"""AOPC per clip and its mean over clips with a bootstrap confidence interval.

AOPC (area over the perturbation curve, Samek et al. 2017) of one clip is the mean,
over the steps k = 0 .. K, of ``p_0 - p_k``: the explained class's probability lost
after k steps of removal. Higher for MoRF means the relevance found what the model
needs; the MoRF - LeRF area (AOPC of MoRF minus AOPC of LeRF) also rewards putting
what the model does not need last.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
N_RESAMPLES = 2000


def aopc(probability: np.ndarray) -> np.ndarray:
    """``(n_clips, K + 1)`` probabilities -> ``(n_clips,)`` AOPC per clip."""
    p = np.asarray(probability, dtype=np.float64)
    return (p[:, :1] - p).mean(axis=1)


def mean_with_ci(values: np.ndarray, *, seed: int) -> dict[str, Any]:
    """Mean over clips with a percentile bootstrap interval (scipy.stats.bootstrap, seeded).

    Returns ``{"mean", "ci_low", "ci_high", "n"}``; the interval is None below two clips.
    """
    values = np.asarray(values, dtype=np.float64)
    out: dict[str, Any] = {"mean": round(float(values.mean()), 6), "n": int(values.size)}
    if values.size < 2 or np.all(values == values[0]):
        bound = None if values.size < 2 else out["mean"]
        return {**out, "ci_low": bound, "ci_high": bound}
    result = stats.bootstrap(
        (values,),
        np.mean,
        confidence_level=CONFIDENCE,
        n_resamples=N_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return {**out, "ci_low": round(float(low), 6), "ci_high": round(float(high), 6)}


def method_summary(
    morf: np.ndarray, lerf: np.ndarray, random: np.ndarray, *, seed: int
) -> dict[str, Any]:
    """One method's AOPCs (each ``(n_clips,)``), their intervals, and how they compare with random.

    ``beats_random`` holds when the MoRF interval lies wholly above the random order's.
    """
    summary = {
        "aopc_morf": mean_with_ci(morf, seed=seed),
        "aopc_lerf": mean_with_ci(lerf, seed=seed),
        "morf_minus_lerf": mean_with_ci(morf - lerf, seed=seed),
        "morf_minus_random": mean_with_ci(morf - random, seed=seed),
    }
    low, high = summary["aopc_morf"]["ci_low"], mean_with_ci(random, seed=seed)["ci_high"]
    summary["beats_random"] = bool(low is not None and high is not None and low > high)
    return summary
