"""Issue 15: 95% intervals cover 93-97% and 5% tests reject 3.5-6.5% of the time.

For the crossed GLMM (random intercepts, between participants), the GLMM with
correlated random slopes of condition by stimulus, and the d'-difference test
of the hierarchical probit SDT model, on the small designs of
``analysis.model_calibration`` (run as they are by
``benchmarks/model_calibration.py``). Seeds are fixed (the first seed below,
then one per replication), so the result is reproducible.

Monte Carlo SE of a rate near 0.95 or 0.05: sqrt(0.95 x 0.05 / n) = 0.0097 at
500 replications. The coverage band (0.95 +- 0.02) is then +-2.1 SE: an exactly
calibrated interval lands inside it with probability 0.97 (binomial). The
type-I band (0.05 +- 0.015) would be only +-1.5 SE (probability 0.88: one seed
in eight would fail a perfect test), so the null arm has 1,000 replications
(SE 0.0069, +-2.2 SE, probability 0.98).

Measured with these seeds (2026-12-04; Monte Carlo 95% interval in brackets):

- glmm (40 participants between, 20 trials on 20 stimuli): coverage 0.946
  [0.923, 0.963]; type-I **0.069** [0.055, 0.086], outside the band: a real
  small-sample over-rejection of the Wald z (the likelihood-ratio test rejects
  0.063 on the same studies; 60 participants give 0.049), see docs/analysis.md.
  That case is a strict xfail: CI stays green and fails once it is fixed.
- slopes (30 participants within, 20 trials on 20 stimuli): coverage 0.952
  [0.930, 0.968]; type-I 0.065 [0.051, 0.082] (at the edge of the band).
- sdt (30 participants x 30 trials on 30 stimuli): coverage 0.966 [0.946,
  0.979]; type-I 0.048 [0.036, 0.063].

The 4,500 fits cost about 530 CPU seconds (0.05 / 0.10 / 0.20 s per fit): about
4.5 minutes with 2 workers on an idle 2-core machine (35 minutes measured at
load average 7-11).
"""

from __future__ import annotations

import functools
import os

import pandas as pd
import pytest

from analysis.model_calibration import MODELS, model_calibration

SEED = 20261203
REPS = 500  # with the effect
NULL_REPS = 1000
WORKERS = min(2, os.cpu_count() or 1)


@functools.cache
def _rates(model: str) -> pd.DataFrame:
    table = model_calibration(model, REPS, n_null=NULL_REPS, seed=SEED, workers=WORKERS)
    return table.set_index("quantity")


# quantity: (low, high, replications) of issue 15's band.
BANDS = {"coverage": (0.93, 0.97, REPS), "false_positive_rate": (0.035, 0.065, NULL_REPS)}
WALD_Z_SMALL_SAMPLE = pytest.mark.xfail(
    strict=True,
    reason="measured 0.069 [0.055, 0.086]: the Wald z test of a between-participant "
    "effect with 40 participants over-rejects (SEs 4% small, z heavier-tailed than normal)",
)
CASES = [
    pytest.param(m, q, marks=WALD_Z_SMALL_SAMPLE)
    if (m, q) == ("glmm", "false_positive_rate")
    else (m, q)
    for m in MODELS
    for q in BANDS
]


@pytest.mark.slow
@pytest.mark.parametrize(("model", "quantity"), CASES)
def test_intervals_cover_93_to_97_percent_and_null_tests_reject_3_5_to_6_5_percent(
    model: str, quantity: str
) -> None:
    low, high, reps = BANDS[quantity]
    row = _rates(model).loc[quantity]
    assert row["n_failed"] == 0 and row["n_reps"] == reps
    assert low <= row["rate"] <= high, row.to_dict()
