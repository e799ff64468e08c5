"""Logistic regression with crossed random intercepts, fitted by Laplace-approximated ML.

Model, for trial ``i`` of participant ``p(i)`` on stimulus ``s(i)``::

    logit P(y_i = 1) = x_i' beta + sigma_p * u_p(i) + sigma_s * v_s(i),   u, v ~ N(0, 1)

This is lme4's ``glmer(y ~ x + (1|participant) + (1|stimulus), family=binomial)``
with its default Laplace approximation, and it is fitted the way lme4 fits it.
The stimulus term may carry random slopes, ``(1 + condition | stimulus)`` or
``(1 + condition || stimulus)``: each stimulus then has q effects ``Lambda v_s``
(``Structure``), and the link may be probit (``analysis.sdt``); the steps are
the same:

1. For given ``theta = (sigma_p, sigma_s)`` the conditional mode of the spherical
   random effects is found by Newton's method (penalised IRLS). The Hessian of the
   penalised log-likelihood is ``[[D_p, B], [B', E]]`` where ``D_p`` (participants)
   is *diagonal* because each trial has one participant, so the participant block
   is eliminated exactly and only the Schur complement ``S = E - B' D_p^-1 B`` of
   the stimulus (and fixed-effect) block is a dense matrix (size n_stimuli + p).
   Its Cholesky factor also gives ``log det`` for the Laplace term. Memory is
   O(n_trials + n_stimuli^2), time per Newton step O(n_participants * n_stimuli^2)
   in chunked BLAS products.
2. Stage 1 (lme4's ``nAGQ = 0``): beta joins the Newton step and the profiled
   Laplace deviance is minimised over theta only.
3. Stage 2 (lme4's ``nAGQ = 1``): the Laplace deviance is minimised over
   (theta, beta) jointly, starting from stage 1.
4. Standard errors: the inverse of the numerically differentiated Hessian of the
   deviance in (theta, beta) (the observed information, lme4's
   ``use.hessian = TRUE``), so they include uncertainty in the variance components.

Validated against ``lme4::glmer`` in ``tests/analysis/test_glmm_lme4.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg, optimize
from scipy.special import expit, log_ndtr
from threadpoolctl import threadpool_limits

from analysis._checks import check_columns
from analysis._contrasts import contrast_table
from analysis._crossed import (
    SUBSAMPLE_ABOVE,
    Problem,
    central_hessian,
    dense_block,
    fixed_design,
    make_problem,
    psum,
    random_effect_step,
    stimulus_sum,
    subsample,
)
from analysis._errors import NotEnoughData
from analysis._wald import between_within_df, wald_t

_SIGMA_MAX = 20.0
# An SD below this is on the boundary (lme4's isSingular tolerance is 1e-4 on theta).
SINGULAR_BELOW = 1e-4


@dataclass
class _Mode:
    beta: np.ndarray
    up: np.ndarray
    us: np.ndarray
    deviance: float
    cond_cov: np.ndarray  # cov(beta | theta) when beta was free, else empty
    iterations: int


@dataclass(frozen=True)
class Structure:
    """The stimulus random-effect structure: ``(1 | stimulus)``, or with ``q - 1``
    condition slopes, correlated (``(1 + condition | stimulus)``, lower-triangular
    factor) or not (``(1 + condition || stimulus)``, diagonal factor).

    theta = (sigma_p, the free entries of the relative covariance factor Lambda,
    row by row), lme4's parametrisation: diagonal entries are >= 0, the rest free.
    """

    q: int = 1
    correlated: bool = True
    link: str = "logit"  # or "probit" (signal detection, analysis.sdt)

    @property
    def _index(self) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = np.tril_indices(self.q)
        keep = np.ones(len(rows), bool) if self.correlated else rows == cols
        return rows[keep], cols[keep]

    @property
    def n_theta(self) -> int:
        return 1 + len(self._index[0])

    @property
    def bounded(self) -> np.ndarray:
        """Which theta coordinates have the lower bound 0 (SDs and diagonals)."""
        rows, cols = self._index
        return np.concatenate([[True], rows == cols])

    def factor(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(sigma_p, Lambda) from theta."""
        lam = np.zeros((self.q, self.q))
        lam[self._index] = theta[1:]
        return float(theta[0]), lam

    def start(self) -> np.ndarray:
        rows, cols = self._index
        return np.concatenate([[1.0], (rows == cols).astype(float)])

    def bounds(self) -> list[tuple[float, float]]:
        return [(0.0, _SIGMA_MAX) if b else (-_SIGMA_MAX, _SIGMA_MAX) for b in self.bounded]


def _penalised(prob: Problem, eta: np.ndarray, up: np.ndarray, us: np.ndarray, link: str) -> float:
    """Conditional log-likelihood minus half the squared norm of the spherical effects."""
    if link == "probit":
        loglik = float(log_ndtr((2.0 * prob.y - 1.0) * eta).sum())
    else:
        # softplus(eta) = max(eta, 0) + log1p(exp(-|eta|)), cheaper than logaddexp
        softplus = np.maximum(eta, 0.0).sum() + np.log1p(np.exp(-np.abs(eta))).sum()
        loglik = float(np.dot(prob.y, eta) - softplus)
    return loglik - 0.5 * float(up @ up + us @ us)


def _score_and_weight(y: np.ndarray, eta: np.ndarray, link: str) -> tuple[np.ndarray, np.ndarray]:
    """d loglik / d eta per trial and the Fisher weight (dmu/deta)^2 / var(mu), as
    lme4's PIRLS uses them (for the canonical logit: y - mu and mu (1 - mu))."""
    if link == "probit":
        log_phi = -0.5 * eta * eta - 0.5 * np.log(2.0 * np.pi)
        up_ratio = np.exp(log_phi - log_ndtr(eta))  # phi / Phi(eta)
        down_ratio = np.exp(log_phi - log_ndtr(-eta))  # phi / Phi(-eta)
        score = np.where(y > 0.5, up_ratio, -down_ratio)
        return score, up_ratio * down_ratio  # phi^2 / (Phi(eta) Phi(-eta))
    mu = expit(eta)
    return y - mu, mu * (1.0 - mu)


def _stimulus_eta(prob: Problem, A: np.ndarray, us: np.ndarray) -> np.ndarray:
    if prob.q == 1:
        return A[:, 0] * us[prob.sid]
    return (A * us[prob.cols]).sum(axis=1)


def _eta(
    prob: Problem, beta: np.ndarray, up: np.ndarray, us: np.ndarray, sp: float, A: np.ndarray
) -> np.ndarray:
    return prob.X @ beta + sp * up[prob.pid] + _stimulus_eta(prob, A, us)


def _newton_step(
    prob: Problem,
    eta: np.ndarray,
    beta: np.ndarray,
    up: np.ndarray,
    us: np.ndarray,
    sp: float,
    A: np.ndarray,
    free_beta: bool,
    link: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """One Newton direction for (beta?, u_p, u_s) plus log det of the u block and S^-1.

    ``A`` (n, q) are the trials' stimulus loadings, ``Z Lambda``. With beta fixed
    (stage 2) this is the random-effect step the crossed models share.
    """
    r, w = _score_and_weight(prob.y, eta, link)
    if not free_beta:
        dpart, ds, hessian = random_effect_step(prob, r, w, up, us, sp, A)
        return np.zeros_like(beta), dpart, ds, hessian.logdet, np.empty((0, 0))
    gp = sp * psum(prob, r) - up
    gs = stimulus_sum(prob, A * r[:, None]) - us
    gd = np.concatenate([prob.X.T @ r, gs])
    dp = sp * sp * psum(prob, w) + 1.0
    S = dense_block(prob, w, dp, sp, A, True)
    p = prob.X.shape[1]
    t = w * (gp / dp)[prob.pid]  # B' D_p^-1 g_p, evaluated trial by trial
    bs = sp * stimulus_sum(prob, A * t[:, None])
    bt = np.concatenate([sp * (prob.X.T @ t), bs])
    chol = linalg.cho_factor(S, lower=True)
    dd = linalg.cho_solve(chol, gd - bt)
    db, ds = dd[:p], dd[p:]
    q = w * (prob.X @ db + _stimulus_eta(prob, A, ds))
    dpart = (gp - sp * psum(prob, q)) / dp
    # log det of the stimulus block alone: det(S) = det(S_ss) det(Schur_beta) and
    # Schur_beta^-1 is the beta block of S^-1, so no second factorisation is needed.
    s_inv = linalg.cho_solve(chol, np.eye(S.shape[0])[:, :p])[:p]
    logdet_s = 2.0 * np.log(np.diag(chol[0])).sum() + np.linalg.slogdet(s_inv)[1]
    logdet = float(np.log(dp).sum() + logdet_s)
    return db, dpart, ds, logdet, s_inv


def _conditional_mode(
    prob: Problem,
    structure: Structure,
    theta: np.ndarray,
    beta: np.ndarray,
    up: np.ndarray,
    us: np.ndarray,
    free_beta: bool,
    tol: float = 1e-9,
    max_iter: int = 60,
) -> _Mode:
    """Newton/PIRLS with step halving until the step is below ``tol``."""
    sp, lam = structure.factor(theta)
    A = prob.Z @ lam if prob.q > 1 else prob.Z * lam[0, 0]
    eta = _eta(prob, beta, up, us, sp, A)
    value: float | None = None
    for iteration in range(1, max_iter + 1):  # noqa: B007 (reported)
        db, dpart, ds, logdet, s_inv = _newton_step(
            prob, eta, beta, up, us, sp, A, free_beta, structure.link
        )
        size = max(
            np.abs(dpart).max(initial=0.0), np.abs(ds).max(initial=0.0), np.abs(db).max(initial=0.0)
        )
        if size < tol:
            break
        if size < 0.05:
            # Quadratic regime: the full step cannot overshoot, skip the line search.
            beta, up, us = beta + db, up + dpart, us + ds
            eta, value = _eta(prob, beta, up, us, sp, A), None
            continue
        value = _penalised(prob, eta, up, us, structure.link) if value is None else value
        step = 1.0
        for _ in range(30):
            nb, nu, nv = beta + step * db, up + step * dpart, us + step * ds
            n_eta = _eta(prob, nb, nu, nv, sp, A)
            n_value = _penalised(prob, n_eta, nu, nv, structure.link)
            if n_value >= value - 1e-10 * abs(value):
                break
            step /= 2.0
        beta, up, us, eta, value = nb, nu, nv, n_eta, n_value
    value = _penalised(prob, eta, up, us, structure.link) if value is None else value
    return _Mode(beta, up, us, -2.0 * value + logdet, s_inv, iteration)


class _Objective:
    """Laplace deviance as a function of theta (stage 1) or (theta, beta) (stage 2), warm-started."""

    def __init__(self, prob: Problem, beta0: np.ndarray, structure: Structure) -> None:
        self.prob = prob
        self.structure = structure
        self.k = structure.n_theta
        self.beta = beta0
        self.up = np.zeros(prob.n_p)
        self.us = np.zeros(prob.m_s)
        self.evaluations = 0
        self.last: _Mode | None = None

    def stage1(self, theta: np.ndarray) -> float:
        mode = _conditional_mode(
            self.prob, self.structure, theta, self.beta, self.up, self.us, free_beta=True
        )
        self._remember(mode)
        return mode.deviance

    def stage2(self, params: np.ndarray) -> float:
        mode = _conditional_mode(
            self.prob,
            self.structure,
            params[: self.k],
            params[self.k :],
            self.up,
            self.us,
            free_beta=False,
        )
        self._remember(mode, keep_beta=True)
        return mode.deviance

    def _remember(self, mode: _Mode, keep_beta: bool = False) -> None:
        self.evaluations += 1
        self.up, self.us, self.last = mode.up, mode.us, mode
        if not keep_beta:
            self.beta = mode.beta


def _forward_gradient(
    fun: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Forward differences (stage 1 only needs to get close; stage 2 refines)."""
    f0 = fun(x)
    grad = np.empty_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = h * max(1.0, abs(x[i]))
        grad[i] = (fun(x + e) - f0) / e[i]
    return grad


@dataclass(frozen=True)
class CrossedGLMMResult:
    """A fitted crossed-random-intercept logistic regression.

    Attributes
    ----------
    coefficients : one row per fixed effect with columns ``term``, ``estimate``
        (log-odds), ``se`` (observed information, includes variance-component
        uncertainty), ``se_conditional`` (given the variance components), ``t``
        (estimate / se, lme4's "z value"), ``df`` (between-within, ``analysis._wald``),
        ``p_value``, ``ci_low``, ``ci_high`` (95% Wald t, log-odds), ``odds_ratio``,
        ``or_ci_low``, ``or_ci_high``.
    sd_participant, sd_stimulus : random-intercept standard deviations (log-odds).
    loglik : Laplace-approximated log-likelihood (comparable to lme4's logLik).
    levels : condition levels; the first is the reference of the ``condition[...]`` terms.
    cov : (p, p) covariance matrix of the fixed effects, in ``coefficients`` order.
    stimulus_terms : the stimulus random effects (``Intercept`` and, with random
        slopes, the slope terms such as ``condition[audible]``).
    stimulus_cov : (q, q) covariance matrix of the stimulus random effects.
    structure : the stimulus random-effect structure that was fitted.
    """

    coefficients: pd.DataFrame
    sd_participant: float
    sd_stimulus: float
    loglik: float
    n_obs: int
    n_participants: int
    n_stimuli: int
    levels: tuple[str, ...]
    cov: np.ndarray
    converged: bool
    evaluations: int
    warnings: tuple[str, ...] = ()
    stimulus_terms: tuple[str, ...] = ("Intercept",)
    stimulus_cov: np.ndarray = field(default_factory=lambda: np.zeros((1, 1)))
    structure: Structure = field(default_factory=Structure)
    theta: np.ndarray = field(default_factory=lambda: np.zeros(2))

    @property
    def singular_terms(self) -> tuple[str, ...]:
        """Random effects on the boundary of the parameter space (lme4's ``isSingular``:
        a theta with lower bound 0 below 1e-4): ``participant``, ``stimulus`` and, with
        slopes, ``stimulus slope condition[...]`` (its variance is not separable from
        the terms before it)."""
        names = ["participant"] + [
            "stimulus" if k == 0 else f"stimulus slope {self.stimulus_terms[k]}"
            for k in range(self.structure.q)
        ]
        sp, lam = self.structure.factor(self.theta)
        values = [sp, *np.abs(np.diag(lam))]
        return tuple(n for n, v in zip(names, values, strict=True) if v < SINGULAR_BELOW)

    @property
    def stimulus_correlation(self) -> np.ndarray:
        """(q, q) correlations of the stimulus random effects (nan where an SD is 0)."""
        sd = np.sqrt(np.diag(self.stimulus_cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.stimulus_cov / np.outer(sd, sd)

    def term(self, name: str) -> pd.Series:
        """The coefficient row of one term (e.g. ``"condition[audible]"``)."""
        rows = self.coefficients.loc[self.coefficients["term"] == name]
        if rows.empty:
            raise KeyError(f"no term {name!r}; terms are {list(self.coefficients['term'])}")
        return rows.iloc[0]


def _slope_design(
    data: pd.DataFrame, column: str | None, levels: Sequence[str] | None
) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Z of the stimulus random effects: intercept + treatment-coded ``column``."""
    if column is None:
        return None, ("Intercept",)
    Z, names, _ = fixed_design(data, column, (), levels, where="glmm data")
    return Z, tuple(names)


def _enough(y: np.ndarray, X: np.ndarray, pid: np.ndarray, sid: np.ndarray) -> None:
    if len(y) < 10 or np.unique(pid).size < 3 or np.unique(sid).size < 2:
        raise NotEnoughData("crossed GLMM needs at least 10 trials, 3 participants and 2 stimuli")
    if y.min() == y.max():
        raise NotEnoughData("crossed GLMM: every outcome is the same, nothing to model")
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise NotEnoughData(
            "crossed GLMM: fixed effects are not estimable (a level has no trials?)"
        )


def fit_crossed_glmm(
    data: pd.DataFrame,
    *,
    outcome: str = "answer_correct",
    condition: str | None = "condition",
    participant: str = "participant",
    stimulus: str = "stimulus",
    covariates: Sequence[str] = (),
    levels: Sequence[str] | None = None,
    stimulus_slopes: str | None = None,
    correlated: bool = True,
    link: str = "logit",
) -> CrossedGLMMResult:
    """Fit ``outcome ~ condition + covariates + (1|participant) + (1|stimulus)`` (logit),
    or with random slopes ``(1 + stimulus_slopes | stimulus)``.

    Parameters
    ----------
    data : one row per trial.
    outcome : boolean or 0/1 column.
    condition : categorical column, treatment-coded against ``levels[0]``
        (default: sorted levels); None for an intercept-only model.
    participant, stimulus : grouping columns of the two crossed random intercepts.
    covariates : numeric or boolean columns entered as they are.
    levels : order of the condition levels (first = reference).
    stimulus_slopes : categorical column (usually ``condition``, coded like it with
        ``levels``) whose effect varies by stimulus; None: random intercepts only.
        It may differ from ``condition``: the model without the fixed effect of
        condition keeps its slopes (the likelihood-ratio test of condition).
    correlated : with slopes, estimate their correlations with the intercept
        (``(1 + c | stimulus)``) or not (``(1 + c || stimulus)``, diagonal).
    link : ``"logit"`` (odds ratios) or ``"probit"`` (``family = binomial(link =
        "probit")``; the odds-ratio columns then have no meaning).

    Returns
    -------
    CrossedGLMMResult

    Raises
    ------
    NotEnoughData if the data cannot identify the model.
    """
    needed = {outcome: "bool", participant: "any", stimulus: "any"}
    for column in (condition, stimulus_slopes):
        if column is not None:
            needed[column] = "any"
    check_columns(data, needed, where="glmm data")
    X, names, found = fixed_design(data, condition, covariates, levels, where="glmm data")
    Z, z_names = _slope_design(data, stimulus_slopes, levels)
    y = data[outcome].to_numpy(float)
    pid = pd.factorize(data[participant])[0]
    sid = pd.factorize(data[stimulus])[0]
    _enough(y, X, pid, sid)
    prob = make_problem(y, X, pid, sid, Z)
    if link not in ("logit", "probit"):
        raise ValueError(f"link must be 'logit' or 'probit', not {link!r}")
    structure = Structure(prob.q, correlated, link)
    theta, beta, cov, cond_cov, objective, notes = _optimise(prob, structure)
    return _result(prob, names, found, z_names, theta, beta, cov, cond_cov, objective, notes)


def _optimise(
    prob: Problem, structure: Structure
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, _Objective, list[str]]:
    p = prob.X.shape[1]
    objective = _Objective(prob, np.zeros(p), structure)
    k = structure.n_theta
    with threadpool_limits(limits=1, user_api="blas"):
        # Many small dense solves: BLAS threads only add contention here.
        theta0 = (
            _stage1(_Objective(subsample(prob), np.zeros(p), structure))
            if prob.n_p > SUBSAMPLE_ABOVE
            else structure.start()
        )
        x = np.concatenate([_stage1(objective, theta0), objective.beta])
        x, H, notes = _newton_refine(objective, x)
        cov, cond_cov, more = _covariances(prob, objective, x, H)
    return x[:k], x[k:], cov, cond_cov, objective, notes + more


def _clip(structure: Structure, theta: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Theta inside its bounds (``floor`` for the SDs and diagonal entries)."""
    low = np.where(structure.bounded, floor, -_SIGMA_MAX)
    return np.clip(theta, low, _SIGMA_MAX)


def _stage1(objective: _Objective, theta0: np.ndarray | None = None) -> np.ndarray:
    """Minimise the stage-1 (beta profiled) Laplace deviance over theta (SDs >= 0)."""
    structure = objective.structure
    start = structure.start() if theta0 is None else _clip(structure, theta0, 0.05)
    first = optimize.minimize(
        objective.stage1,
        start,
        method="L-BFGS-B",
        jac=lambda t: _forward_gradient(objective.stage1, t),
        bounds=structure.bounds(),
        options={"ftol": 1e-6},
    )
    return _clip(structure, first.x)


def _free(structure: Structure, x: np.ndarray) -> np.ndarray:
    """Coordinates that are not on the theta >= 0 boundary."""
    k = structure.n_theta
    return np.concatenate([~structure.bounded | (x[:k] > 1e-4), np.ones(len(x) - k, bool)])


def _newton_refine(
    objective: _Objective, x: np.ndarray, max_iter: int = 6
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Stage 2: Newton steps on the Laplace deviance with finite-difference derivatives.

    Stage 1 lands close to the optimum, so one or two steps suffice; the last
    Hessian is the observed information used for the standard errors.
    """
    for _ in range(max_iter):
        free = _free(objective.structure, x)
        g, H, f0 = central_hessian(objective.stage2, x, free)
        try:
            step = np.linalg.solve(H, g)
            se = np.sqrt(np.abs(np.diag(np.linalg.inv(H))) * 2.0)
        except np.linalg.LinAlgError:
            break
        x, improved = _damped_step(objective, x, free, step, f0)
        if not improved:
            break
        # A step this small (relative to the standard errors) leaves an error of
        # its square, and the Hessian barely moves: accept it without another round.
        if np.all(np.abs(step) < 0.05 * se):
            return x, H, []
    g, H, _ = central_hessian(objective.stage2, x, _free(objective.structure, x))
    return x, H, [f"stage-2 Newton refinement did not converge; gradient {np.abs(g).max():.2g}"]


def _damped_step(
    objective: _Objective, x: np.ndarray, free: np.ndarray, step: np.ndarray, f0: float
) -> tuple[np.ndarray, bool]:
    """Take the Newton step, halving it until the deviance does not increase."""
    for _ in range(20):
        trial = x.copy()
        trial[free] -= step
        k = objective.k
        trial[:k] = _clip(objective.structure, trial[:k])
        if objective.stage2(trial) <= f0 + 1e-9 * max(1.0, abs(f0)):
            return trial, True
        step = step / 2.0
    return x, False


def _covariances(
    prob: Problem, objective: _Objective, best: np.ndarray, H: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Observed-information covariance of beta (deviance = -2 loglik, so 2 H^-1),
    and the covariance given theta (lme4's ``use.hessian = FALSE``)."""
    p = prob.X.shape[1]
    objective.stage2(best)  # leave the warm start at the optimum
    k = objective.k
    mode = _conditional_mode(
        prob, objective.structure, best[:k], best[k:], objective.up, objective.us, free_beta=True
    )
    cond_cov = mode.cond_cov
    try:
        cov = (2.0 * np.linalg.inv(H))[-p:, -p:]
        if np.any(np.diag(cov) <= 0) or not np.all(np.isfinite(cov)):
            raise np.linalg.LinAlgError("not positive definite")
        return cov, cond_cov, []
    except np.linalg.LinAlgError:
        return (
            cond_cov,
            cond_cov,
            ["Hessian not positive definite: SEs are conditional on the variance components"],
        )


def _result(
    prob: Problem,
    names: list[str],
    found: tuple[str, ...],
    z_names: tuple[str, ...],
    theta: np.ndarray,
    beta: np.ndarray,
    cov: np.ndarray,
    cond_cov: np.ndarray,
    objective: _Objective,
    notes: list[str],
) -> CrossedGLMMResult:
    se = np.sqrt(np.diag(cov))
    df = between_within_df(prob.X, prob.pid, prob.sid, prob.Z if prob.q > 1 else None)
    table = pd.concat(
        [
            pd.DataFrame(
                {
                    "term": names,
                    "estimate": beta,
                    "se": se,
                    "se_conditional": np.sqrt(np.diag(cond_cov)),
                }
            ),
            wald_t(beta, se, df),
        ],
        axis=1,
    )
    table["odds_ratio"] = np.exp(table["estimate"])
    table["or_ci_low"] = np.exp(table["ci_low"])
    table["or_ci_high"] = np.exp(table["ci_high"])
    if np.any(np.abs(beta[1:]) > 10):
        notes.append("a fixed effect exceeds 10 on the log-odds scale: probable separation")
    deviance = objective.stage2(np.concatenate([theta, beta]))
    sp, lam = objective.structure.factor(theta)
    stimulus_cov = lam @ lam.T
    return CrossedGLMMResult(
        coefficients=table,
        sd_participant=sp,
        sd_stimulus=float(np.sqrt(stimulus_cov[0, 0])),
        loglik=-0.5 * deviance,
        n_obs=len(prob.y),
        n_participants=prob.n_p,
        n_stimuli=prob.n_s,
        levels=found,
        cov=cov,
        converged=not notes,
        evaluations=objective.evaluations,
        warnings=tuple(notes),
        stimulus_terms=z_names,
        stimulus_cov=stimulus_cov,
        structure=objective.structure,
        theta=np.asarray(theta, float),
    )


def glmm_contrasts(
    result: CrossedGLMMResult,
    pairs: Sequence[tuple[str, str]] | None = None,
    *,
    condition: str = "condition",
) -> pd.DataFrame:
    """Pairwise condition contrasts (log odds ratio of ``b`` over ``a``) from one fit.

    Returns
    -------
    DataFrame with ``a``, ``b``, ``log_or``, ``se``, ``t``, ``df``, ``p_value``,
    ``ci_low``, ``ci_high``, ``odds_ratio``, ``or_ci_low``, ``or_ci_high``
    (conditional, i.e. subject- and stimulus-specific, odds ratios).
    """
    return contrast_table(
        result.coefficients["estimate"].to_numpy(),
        result.cov,
        result.coefficients["term"],
        result.levels,
        pairs,
        df=result.coefficients["df"].to_numpy(),
        prefix=condition,
    )
