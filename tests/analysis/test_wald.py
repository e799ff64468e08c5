"""The between-within degrees of freedom of the crossed models' Wald t tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis._wald import between_within_df, combination_df, wald_t

N_P, N_S = 12, 8  # participants x stimuli, every participant sees every stimulus


def _crossed() -> tuple[np.ndarray, np.ndarray]:
    pid, sid = np.divmod(np.arange(N_P * N_S), N_S)
    return pid, sid


def test_a_between_participant_condition_gets_participants_minus_its_rank() -> None:
    pid, sid = _crossed()
    between = (pid % 2).astype(float)
    age = (pid % 5).astype(float)  # a participant covariate: one more participant-level rank
    X = np.column_stack([np.ones_like(between), between, age])
    df = between_within_df(X, pid, sid)
    # intercept: min(12 - 3 participant-level ranks, 8 - 1 stimulus-level rank)
    assert df.tolist() == [7.0, 9.0, 9.0]


def test_a_stimulus_level_covariate_gets_stimuli_minus_their_rank() -> None:
    pid, sid = _crossed()
    loud = (sid % 3).astype(float)
    X = np.column_stack([np.ones(len(pid)), loud])
    assert between_within_df(X, pid, sid).tolist() == [6.0, 6.0]


def test_a_within_condition_gets_the_residual_df_and_with_slopes_stimuli_minus_one() -> None:
    pid, sid = _crossed()
    within = ((pid + sid) % 2).astype(float)
    X = np.column_stack([np.ones(len(pid)), within])
    residual = N_P * N_S - 2 - (N_P - 1) - (N_S - 1)
    assert between_within_df(X, pid, sid).tolist() == [7.0, residual]
    assert between_within_df(X, pid, sid, X).tolist() == [7.0, 7.0]
    # Stimuli seen in one condition only say nothing about the slope's variance.
    only_one = within.copy()
    only_one[sid < 3] = 0.0
    X = np.column_stack([np.ones(len(pid)), only_one])
    assert between_within_df(X, pid, sid, X)[1] == N_S - 3 - 1


def test_a_combination_takes_the_smallest_df_of_the_columns_it_uses() -> None:
    df = np.array([7.0, 9.0, 85.0])
    assert combination_df(df, np.array([0.0, 1.0, -1.0])) == 9.0
    assert combination_df(df, np.array([0.0, 0.0, 1.0])) == 85.0
    assert combination_df(df, np.array([1.0, 1.0, 0.0])) == 7.0


def test_wald_t_refers_the_ratio_to_t_on_its_df() -> None:
    out = wald_t(np.array([0.5, -1.0]), np.array([0.25, 0.4]), np.array([10.0, np.inf]))
    assert out["t"].tolist() == [2.0, -2.5]
    assert out["p_value"].iloc[0] == pytest.approx(0.07339, abs=1e-5)  # t(10) table value
    assert out["p_value"].iloc[1] == pytest.approx(2 * stats.norm.sf(2.5), rel=1e-12)
    assert out["ci_high"].iloc[0] - 0.5 == pytest.approx(2.228139 * 0.25, rel=1e-6)
