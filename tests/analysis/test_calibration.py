"""Statistical calibration of what ``test_model_calibration.py`` does not hold.

Issue 15's bands at 500/1,000 replications are held for the GLMM, the slope
GLMM, SDT, GEE, Welch's t and the log-RT model in ``test_model_calibration.py``.
What is left here: the Mann-Whitney test (no interval, so not part of that
machinery) on ``coverage_study``'s design, and the Wilson and d' intervals under
their own assumptions. The replication count keeps the suite fast, so the
observed rate carries Monte Carlo error (about +-3.5 points at 150
replications): the check passes when the rate's 95% Monte Carlo (Wilson)
interval overlaps the goal band, which still fails a test rejecting 12% of the
time. The same study with 1,000 replications per arm is
``benchmarks/analysis_coverage.py`` (numbers in docs/analysis.md). Seeds are
fixed, so the result is reproducible.
"""

from __future__ import annotations

import os

import pytest

from analysis.calibration import coverage_study, interval_checks

SEED = 20260101
REPS = 150
WORKERS = min(2, os.cpu_count() or 1)


@pytest.fixture(scope="module")
def study() -> dict[tuple[str, str], tuple[float, float]]:
    table = coverage_study(REPS, seed=SEED, workers=WORKERS)
    return {
        (row.estimator, row.quantity): (row.rate_ci_low, row.rate_ci_high)
        for row in table.itertuples()
    }


def _overlaps(interval: tuple[float, float], low: float, high: float) -> bool:
    return interval[0] <= high and interval[1] >= low


@pytest.mark.slow
def test_without_an_effect_the_mann_whitney_test_rejects_3_to_7_percent_of_the_time(
    study: dict[tuple[str, str], tuple[float, float]],
) -> None:
    assert _overlaps(study[("mwu", "false_positive_rate")], 0.03, 0.07), study[
        ("mwu", "false_positive_rate")
    ]


def test_wilson_and_dprime_intervals_cover_under_their_assumptions() -> None:
    table = interval_checks(2000, seed=SEED)
    assert table["coverage"].between(0.92, 0.98).all(), table
