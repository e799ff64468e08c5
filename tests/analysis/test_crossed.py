"""Shared crossed random-effect algebra, checked against dense linear algebra."""

from __future__ import annotations

import numpy as np
import pytest

from analysis._crossed import make_problem, random_effect_step


def test_the_inverse_entries_at_each_trial_match_the_dense_inverse() -> None:
    rng = np.random.default_rng(3)
    n, n_p, n_s, sp, ss = 200, 15, 9, 0.8, 0.5
    pid, sid = rng.integers(0, n_p, n), rng.integers(0, n_s, n)  # repeats within participants
    prob = make_problem(np.zeros(n), np.ones((n, 1)), pid, sid)
    weight, score = rng.uniform(0.05, 0.25, n), rng.normal(size=n)
    _, _, hessian = random_effect_step(
        prob, score, weight, np.zeros(n_p), np.zeros(n_s), sp, prob.Z * ss
    )
    loadings = np.zeros((n, n_p + n_s))  # Lambda: trial i loads sp on u_p, ss on u_s
    loadings[np.arange(n), prob.pid] = sp
    loadings[np.arange(n), n_p + prob.sid] = ss
    H = loadings.T @ (weight[:, None] * loadings) + np.eye(n_p + n_s)
    inverse = np.linalg.inv(H)
    pp, ps, s_s = hessian.trial_inverse()
    assert pp == pytest.approx(inverse[prob.pid, prob.pid], rel=1e-10)
    assert ps == pytest.approx(inverse[prob.pid, n_p + prob.sid], rel=1e-10)
    assert s_s == pytest.approx(inverse[n_p + prob.sid, n_p + prob.sid], rel=1e-10)
    assert hessian.logdet == pytest.approx(np.linalg.slogdet(H)[1], rel=1e-12)
    rhs = rng.normal(size=n_p + n_s)
    xp, xs = hessian.solve(rhs[:n_p], rhs[n_p:])
    assert np.concatenate([xp, xs]) == pytest.approx(np.linalg.solve(H, rhs), rel=1e-10)
