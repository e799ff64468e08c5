"""Linear mixed model with crossed random intercepts (participant, stimulus), by REML.

Model: ``y_i = x_i' beta + u_p(i) + v_s(i) + e_i`` with ``u ~ N(0, sigma_p^2)``,
``v ~ N(0, sigma_s^2)``, ``e ~ N(0, sigma^2)``: lme4's
``lmer(y ~ x + (1|participant) + (1|stimulus))``. For relative SDs
``theta = (sigma_p / sigma, sigma_s / sigma)`` the penalised least-squares
system is solved exactly with the participant block eliminated (see
``analysis._crossed``), and the profiled REML criterion (Bates et al. 2015,
eq. 42)::

    d_R(theta) = log(|L_theta|^2 |R_X|^2) + (n - p) (1 + log(2 pi r^2 / (n - p)))

is minimised over theta >= 0. ``sigma^2 = r^2 / (n - p)`` and
``cov(beta) = sigma^2 (R_X' R_X)^-1`` as in lmer. Validated against
``lme4::lmer`` and statsmodels ``MixedLM`` (variance components).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, optimize
from threadpoolctl import threadpool_limits

from analysis._checks import check_columns
from analysis._crossed import Problem, dense_block, fixed_design, make_problem, psum
from analysis._errors import NotEnoughData
from analysis._wald import between_within_df, wald_t


@dataclass(frozen=True)
class CrossedLMMResult:
    """A fitted crossed-random-intercept linear mixed model.

    ``coefficients``: ``term``, ``estimate``, ``se``, ``t`` (lmer's "t value"),
    ``df`` (between-within, ``analysis._wald``), ``p_value``, ``ci_low``,
    ``ci_high`` (95% Wald t).
    """

    coefficients: pd.DataFrame
    sd_participant: float
    sd_stimulus: float
    sd_residual: float
    reml_criterion: float
    n_obs: int
    n_participants: int
    n_stimuli: int
    levels: tuple[str, ...]
    cov: np.ndarray
    converged: bool


@dataclass
class _Solution:
    deviance: float
    beta: np.ndarray
    cov_unscaled: np.ndarray
    sigma2: float


def _solve(prob: Problem, theta: np.ndarray, ones: np.ndarray, counts: np.ndarray) -> _Solution:
    """Exact penalised least squares at theta; returns the REML criterion and beta."""
    sp, ss = float(theta[0]), float(theta[1])
    n, p = prob.X.shape
    dp = sp * sp * counts + 1.0
    S = dense_block(prob, ones, dp, sp, ss * prob.Z, free_beta=True)
    gp = sp * psum(prob, prob.y)
    gd = np.concatenate([prob.X.T @ prob.y, ss * np.bincount(prob.sid, prob.y, prob.n_s)])
    t = (gp / dp)[prob.pid]
    bt = np.concatenate([sp * (prob.X.T @ t), sp * ss * np.bincount(prob.sid, t, prob.n_s)])
    chol = linalg.cho_factor(S, lower=True)
    dd = linalg.cho_solve(chol, gd - bt)
    beta, us = dd[:p], dd[p:]
    fitted_dense = prob.X @ beta + ss * us[prob.sid]
    up = (gp - sp * psum(prob, fitted_dense)) / dp
    resid = prob.y - fitted_dense - sp * up[prob.pid]
    r2 = float(resid @ resid + up @ up + us @ us)
    logdet = float(np.log(dp).sum() + 2.0 * np.log(np.diag(chol[0])).sum())
    deviance = logdet + (n - p) * (1.0 + np.log(2.0 * np.pi * r2 / (n - p)))
    cov_unscaled = linalg.cho_solve(chol, np.eye(S.shape[0])[:, :p])[:p]
    return _Solution(deviance, beta, cov_unscaled, r2 / (n - p))


def fit_crossed_lmm(
    data: pd.DataFrame,
    *,
    outcome: str,
    condition: str | None = "condition",
    participant: str = "participant",
    stimulus: str = "stimulus",
    covariates: Sequence[str] = (),
    levels: Sequence[str] | None = None,
) -> CrossedLMMResult:
    """REML fit of ``outcome ~ condition + covariates + (1|participant) + (1|stimulus)``.

    Parameters as ``fit_crossed_glmm`` (``outcome`` numeric). Raises NotEnoughData
    when the model is not identifiable.
    """
    needed = {outcome: "numeric", participant: "any", stimulus: "any"}
    if condition is not None:
        needed[condition] = "any"
    check_columns(data, needed, where="lmm data")
    clean = data.loc[np.isfinite(data[outcome].to_numpy(float))]
    X, names, found = fixed_design(clean, condition, covariates, levels, where="lmm data")
    if (
        len(clean) < X.shape[1] + 10
        or clean[participant].nunique() < 3
        or clean[stimulus].nunique() < 2
    ):
        raise NotEnoughData(
            "crossed LMM needs 3 participants, 2 stimuli and 10 more trials than fixed effects"
        )
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise NotEnoughData("crossed LMM: fixed effects are not estimable")
    prob = make_problem(
        clean[outcome].to_numpy(float),
        X,
        pd.factorize(clean[participant])[0],
        pd.factorize(clean[stimulus])[0],
    )
    ones = np.ones(len(prob.y))
    counts = psum(prob, ones)
    with threadpool_limits(limits=1, user_api="blas"):
        best = optimize.minimize(
            lambda t: _solve(prob, t, ones, counts).deviance,
            np.ones(2),
            method="L-BFGS-B",
            bounds=[(0.0, 1e3)] * 2,
        )
        sol = _solve(prob, best.x, ones, counts)
    cov = sol.sigma2 * sol.cov_unscaled
    se = np.sqrt(np.diag(cov))
    table = pd.concat(
        [
            pd.DataFrame({"term": names, "estimate": sol.beta, "se": se}),
            wald_t(sol.beta, se, between_within_df(prob.X, prob.pid, prob.sid)),
        ],
        axis=1,
    )
    sigma = float(np.sqrt(sol.sigma2))
    return CrossedLMMResult(
        table,
        float(best.x[0]) * sigma,
        float(best.x[1]) * sigma,
        sigma,
        float(best.fun),
        len(prob.y),
        prob.n_p,
        prob.n_s,
        found,
        cov,
        bool(best.success),
    )
