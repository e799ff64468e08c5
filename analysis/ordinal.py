"""Cumulative-logit mixed model for Likert ratings, fitted by Laplace-approximated ML.

Model, for trial ``i`` of participant ``p(i)`` on stimulus ``s(i)`` and rating
categories ``1 < ... < K`` (those observed)::

    logit P(Y_i <= k) = theta_k - (x_i' beta + sigma_p u_p(i) + sigma_s v_s(i)),  u, v ~ N(0, 1)

which is ``ordinal::clmm(rating ~ condition + (1 | participant) + (1 | stimulus))``
in its parametrisation: a positive ``beta`` shifts ratings up, and ``exp(beta)``
is the cumulative odds ratio (the odds of a rating above any cut point, with
the participant and the stimulus held fixed). A rating category nobody used
has no threshold of its own: its neighbours' thresholds are estimated directly
(dropping an empty category of a cumulative-logit model is still that model).

Why not ``analysis.glmm``: its Newton step and its two-stage optimisation are
written for one Bernoulli probability per trial with the fixed effects inside
the Newton step; here each trial's probability is the difference of two
logistic CDFs at the thresholds around its rating, and the thresholds must stay
ordered. The random-effect algebra is the same, so the exact elimination of the
participant block (``analysis._crossed.random_effect_step``) is reused; what
is here is the likelihood, and an outer optimisation over (thresholds, beta,
SDs) the way clmm does it:

1. Conditional modes of the spherical random effects by Newton's method with
   the exact (observed) second derivative, as clmm's ``update.u``.
2. The Laplace negative log-likelihood is minimised over the thresholds (first
   one plus log increments, so they stay ordered), beta and the SDs (>= 0) by
   L-BFGS-B with its exact gradient (``_Laplace.gradient``).
3. Standard errors: the inverse of the Hessian in (thresholds, beta, SDs) by
   central differences of that gradient, without the SDs on the boundary (clmm's
   ``Hess = TRUE``).

Validated against ``ordinal::clmm`` in ``tests/analysis/test_ordinal_r.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from threadpoolctl import threadpool_limits

from analysis._checks import check_columns
from analysis._contrasts import contrast_table
from analysis._crossed import (
    SUBSAMPLE_ABOVE,
    EffectHessian,
    Problem,
    gradient_hessian,
    make_problem,
    psum,
    random_effect_step,
    stimulus_sum,
    subsample,
)
from analysis._errors import NotEnoughData
from analysis._wald import between_within_df, wald_t

FORMULA = 'rating ~ condition + (1 | participant) + (1 | stimulus), link = "logit"'
_SIGMA_MAX = 20.0
SINGULAR_BELOW = 1e-4  # as analysis.glmm (lme4's isSingular tolerance)


@dataclass(frozen=True)
class OrdinalMixedResult:
    """A fitted cumulative-logit model with crossed random intercepts.

    Attributes
    ----------
    coefficients : one row per fixed effect with ``term``, ``estimate`` (log
        cumulative odds), ``se``, ``t`` (clmm's "z value"), ``df`` (between-within,
        ``analysis._wald``), ``p_value``, ``ci_low``, ``ci_high`` (95% Wald t),
        ``odds_ratio``, ``or_ci_low``, ``or_ci_high``.
    thresholds : one row per cut point with ``threshold`` (``"3|4"``: between
        ratings 3 and 4), ``estimate``, ``se``, ``df`` (the intercept's),
        ``ci_low``, ``ci_high`` (logit scale).
    random_effects : ``group`` (participant, stimulus) and ``sd`` (logit scale).
    cov : (p, p) covariance of the fixed effects, in ``coefficients`` order.
    categories : the rating values observed, in order; ``unused`` the scale
        points nobody chose.
    """

    coefficients: pd.DataFrame
    thresholds: pd.DataFrame
    random_effects: pd.DataFrame
    loglik: float
    n_obs: int
    n_participants: int
    n_stimuli: int
    levels: tuple[str, ...]
    cov: np.ndarray
    categories: tuple[float, ...]
    unused: tuple[float, ...]
    warnings: tuple[str, ...]

    @property
    def singular_terms(self) -> tuple[str, ...]:
        """Groups whose random-intercept SD is on the boundary (below 1e-4)."""
        low = self.random_effects["sd"] < SINGULAR_BELOW
        return tuple(self.random_effects.loc[low, "group"])

    def contrasts(self) -> pd.DataFrame:
        """Every pair of conditions: log cumulative odds ratio of ``b`` over ``a``.

        Columns as ``analysis._contrasts.contrast_table`` (``log_or``,
        ``odds_ratio``, ... are cumulative odds ratios).
        """
        beta = self.coefficients["estimate"].to_numpy()
        return contrast_table(
            beta,
            self.cov,
            self.coefficients["term"],
            self.levels,
            None,
            df=self.coefficients["df"].to_numpy(),
        )


def _cells(
    cuts: np.ndarray, codes: np.ndarray, eta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per trial: P(Y = code); then F, 1 - F and the density f at ``a`` and at ``b``, the
    thresholds above and below the rating minus eta.

    ``cuts`` are the thresholds with -inf and +inf at the ends, (K + 1,). Each logistic
    is ``1 / (1 + exp(-x))`` and its complement ``exp(-x)`` times that (both accurate in
    either tail; the exponent is capped where it would overflow). Hand-written because
    ``_category_terms`` led the profile: on 700,000 trials it now takes 25 ms, not 41
    with four ``scipy.special.expit`` calls (load 2), and its score, checked against
    50-digit arithmetic for eta in (-45, 45), is within 5e-13 (relative) where the
    ``expit`` version was off by up to 145% in the far tails.
    """
    ea = np.exp(np.minimum(eta - cuts[codes + 1], 700.0))
    eb = np.exp(np.minimum(cuts[codes] - eta, 700.0))
    fa = 1.0 / (1.0 + ea)
    ca, cb = ea * fa, 1.0 / (1.0 + eb)
    fb = eb * cb
    # F(a) - F(b) as F(a)(1 - F(b)) - F(b)(1 - F(a)): no 1 - F is formed by subtraction.
    prob = fa * cb - fb * ca
    return prob, fa, ca, fa * ca, fb, cb, fb * cb


def _category_terms(
    cuts: np.ndarray, codes: np.ndarray, eta: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Log-likelihood, d/d eta and -d^2/d eta^2 per trial of P(Y = code)."""
    prob, fa, ca, da, fb, cb, db = _cells(cuts, codes, eta)
    score = (db - da) / prob
    weight = score * score - (da * (ca - fa) - db * (cb - fb)) / prob  # f' = f (1 - 2F)
    return float(np.log(prob).sum()), score, weight


@dataclass(frozen=True)
class _Derivatives:
    """Per-trial derivatives of l = log P(Y = code) that the gradient needs: ``a`` and
    ``b`` stand for the thresholds above and below the rating, ``eta`` for the linear
    predictor; ``w = -d^2 l / d eta^2``, ``score = d l / d eta``."""

    score: np.ndarray
    w: np.ndarray
    l_a: np.ndarray
    l_b: np.ndarray
    score_a: np.ndarray
    score_b: np.ndarray
    w_a: np.ndarray
    w_b: np.ndarray
    w_eta: np.ndarray


def _ratios(cuts: np.ndarray, codes: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, ...]:
    """``p_j = F^(j)(a) / P`` and ``q_j = -F^(j)(b) / P`` for j = 1, 2, 3 (a function of
    their own so that ``_cells``' arrays are freed before ``_derivatives`` fills its
    own: the gradient's peak memory)."""
    prob, fa, ca, da, fb, cb, db = _cells(cuts, codes, eta)
    p1, q1 = da / prob, -db / prob
    p2, q2 = p1 * (ca - fa), q1 * (cb - fb)  # f' = f (1 - 2F)
    p3, q3 = p1 * (1.0 - 6.0 * da), q1 * (1.0 - 6.0 * db)  # f'' = f (1 - 6 F (1 - F))
    return p1, q1, p2, q2, p3, q3


def _derivatives(cuts: np.ndarray, codes: np.ndarray, eta: np.ndarray) -> _Derivatives:
    """Up to third order. l = log P with P = g(a) + h(b), g = F, h = -F, so with
    ``p_j = g^(j)(a) / P``, ``q_j = h^(j)(b) / P`` and ``S_j = p_j + q_j`` (eta enters
    as a - eta and b - eta, so d/d eta = -(d/da + d/db)): ``d l / d eta = -S_1``,
    ``w = S_1^2 - S_2``, ``dw / d eta = S_3 - 3 S_1 S_2 + 2 S_1^3``, and
    ``d p_j / da = p_(j+1) - p_1 p_j``, ``d q_j / da = -p_1 q_j`` give the rest."""
    p1, q1, p2, q2, p3, q3 = _ratios(cuts, codes, eta)
    s1, s2 = p1 + q1, p2 + q2
    shared = s2 - 2.0 * s1 * s1
    return _Derivatives(
        score=-s1,
        w=s1 * s1 - s2,
        l_a=p1,
        l_b=q1,
        score_a=p1 * s1 - p2,
        score_b=q1 * s1 - q2,
        w_a=p1 * shared + 2.0 * s1 * p2 - p3,
        w_b=q1 * shared + 2.0 * s1 * q2 - q3,
        w_eta=p3 + q3 - 3.0 * s1 * s2 + 2.0 * s1 * s1 * s1,
    )


class _Laplace:
    """Laplace negative log-likelihood of raw (thresholds, beta, sigma_p, sigma_s) and
    its exact gradient, warm-starting each conditional mode from the last one.

    The gradient is hand-written because finite differences cost k + 1 deviances per
    gradient and k(k + 1) for the Hessian. Measured on the 20,000-participant benchmark
    export (700,995 ratings, k = 9), in alternating runs at load 2.2-2.6 on 2 cores:
    with finite differences 632 deviances, 38-42 s CPU; with the gradient, the Hessian
    from 2k gradients and the predicted starts of ``_start``, 74 deviances (73 with the
    gradient), 7.3-7.4 s CPU (the gradient alone, with the old per-trial terms and
    starts: 16.9 s at load 3). Estimates within 3e-6 and SEs within 5e-5 (relative) of
    the finite-difference fit, whose log-likelihood was 2e-7 lower.
    """

    def __init__(self, prob: Problem, n_cuts: int) -> None:
        self.prob, self.n_cuts = prob, n_cuts
        self.codes = prob.y.astype(int)
        self.up, self.us = np.zeros(prob.n_p), np.zeros(prob.n_s)
        self.hessian: EffectHessian | None = None  # at the last mode
        # (raw, d score / d a, d score / d b, score, w) at the last gradient's mode
        self.tangent: tuple[np.ndarray, ...] | None = None

    def _start(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The last mode, moved to first order toward ``raw`` when a gradient was taken
        there: ``du = H^-1 R dpsi`` (R the derivative of the mode's equation
        ``Lambda' score = u``, as in ``gradient``). Newton then needs one step fewer."""
        if self.tangent is None:
            return self.up, self.us
        prob, k, codes = self.prob, self.n_cuts, self.codes
        last, score_a, score_b, score, w = self.tangent
        step = raw - last
        dcuts = np.concatenate([[0.0], step[:k], [0.0]])
        moved = prob.X @ step[k:-2] + step[-2] * self.up[prob.pid] + step[-1] * self.us[prob.sid]
        v = score_a * dcuts[codes + 1] + score_b * dcuts[codes] - w * moved
        dup, dus = self.hessian.solve(
            step[-2] * psum(prob, score) + last[-2] * psum(prob, v),
            stimulus_sum(prob, (step[-1] * score + last[-1] * v)[:, None]),
        )
        return self.up + dup, self.us + dus

    def __call__(self, raw: np.ndarray) -> float:
        k, prob = self.n_cuts, self.prob
        cuts = np.concatenate([[-np.inf], raw[:k], [np.inf]])
        if np.any(np.diff(raw[:k]) <= 0):
            return np.inf
        sp, ss = raw[-2], raw[-1]
        fixed, A = prob.X @ raw[k:-2], prob.Z * ss

        def penalised(up: np.ndarray, us: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
            eta = fixed + sp * up[prob.pid] + A[:, 0] * us[prob.sid]
            loglik, score, weight = _category_terms(cuts, self.codes, eta)
            return loglik - 0.5 * float(up @ up + us @ us), score, weight

        up, us = self._start(raw)
        value, score, weight = penalised(up, us)
        for _ in range(50):
            dpart, ds, hessian = random_effect_step(prob, score, weight, up, us, sp, A)
            if max(np.abs(dpart).max(), np.abs(ds).max()) < 1e-10:
                break
            step = 1.0
            for _ in range(30):  # step halving: never accept a lower penalised likelihood
                new = penalised(up + step * dpart, us + step * ds)
                if new[0] >= value - 1e-12 * abs(value):
                    break
                step /= 2.0
            up, us = up + step * dpart, us + step * ds
            value, score, weight = new
        self.up, self.us, self.hessian, self.tangent = up, us, hessian, None
        return -value + 0.5 * hessian.logdet

    def gradient(self, raw: np.ndarray) -> tuple[float, np.ndarray]:
        """The deviance at ``raw`` and its exact gradient in the raw parameters.

        With ``f = -l(u) + |u|^2 / 2 + log det H / 2`` at the mode u, where
        ``H = Lambda' W Lambda + I``: the mode's movement drops out of the first two
        terms (their u-gradient is 0 there) but not of log det H, whose derivative is
        ``tr(H^-1 dH) / 2`` with ``dH`` through ``Lambda``, through ``W``'s direct
        dependence on the thresholds and eta, and through ``du = H^-1 R dpsi``; the
        last is taken with one adjoint solve ``z = H^-1 Lambda' (h * dW/deta)``, ``h``
        the trials' leverages ``diag(Lambda H^-1 Lambda')``.
        """
        value = self(raw)
        k, prob, hess = self.n_cuts, self.prob, self.hessian
        sp, ss, up, us = raw[-2], raw[-1], self.up[prob.pid], self.us[prob.sid]
        cuts = np.concatenate([[-np.inf], raw[:k], [np.inf]])
        d = _derivatives(cuts, self.codes, prob.X @ raw[k:-2] + sp * up + ss * us)
        self.tangent = (raw.copy(), d.score_a, d.score_b, d.score, d.w)
        leverage, through_lambda = _leverages(hess, d.w, sp, ss)
        r = leverage * d.w_eta
        zp, zs = hess.solve(sp * psum(prob, r), ss * stimulus_sum(prob, r[:, None]))
        zp, zs = zp[prob.pid], zs[prob.sid]
        zeta = sp * zp + ss * zs  # Lambda z, trial by trial
        per_eta = -d.score + 0.5 * r - 0.5 * zeta * d.w  # every term that enters through eta
        sds = [per_eta @ up + 0.5 * d.score @ zp, per_eta @ us + 0.5 * d.score @ zs]
        return value, np.concatenate(
            [
                _threshold_gradient(self.codes, d, leverage, zeta, k),
                prob.X.T @ per_eta,
                through_lambda + sds,
            ]
        )


def _leverages(
    hess: EffectHessian, w: np.ndarray, sp: float, ss: float
) -> tuple[np.ndarray, np.ndarray]:
    """The trials' leverages ``diag(Lambda H^-1 Lambda')``, and the SDs' part of
    ``tr(H^-1 dH) / 2`` through ``Lambda`` alone (W held fixed)."""
    pp, ps, s_s = hess.trial_inverse()
    through_lambda = np.array([w @ (sp * pp + ss * ps), w @ (sp * ps + ss * s_s)])
    return sp * sp * pp + 2.0 * sp * ss * ps + ss * ss * s_s, through_lambda


def _threshold_gradient(
    codes: np.ndarray, d: _Derivatives, leverage: np.ndarray, zeta: np.ndarray, k: int
) -> np.ndarray:
    """The thresholds' gradient: each trial's terms go to the cut above its rating
    (``a``) and the one below (``b``); the ends, at -inf and +inf, are dropped."""
    above = -d.l_a + 0.5 * (leverage * d.w_a + zeta * d.score_a)
    below = -d.l_b + 0.5 * (leverage * d.w_b + zeta * d.score_b)
    return np.bincount(codes, above, k + 1)[:k] + np.bincount(codes, below, k + 1)[1:]


def _to_raw(x: np.ndarray, k: int) -> np.ndarray:
    """Optimiser coordinates (theta_1, log increments, beta, SDs) to raw parameters."""
    cuts = x[0] + np.concatenate([[0.0], np.cumsum(np.exp(x[1:k]))])
    return np.concatenate([cuts, x[k:]])


def _gradient_to_optimiser(x: np.ndarray, grad: np.ndarray, k: int) -> np.ndarray:
    """A gradient in the raw parameters as one in ``_to_raw``'s optimiser coordinates
    (threshold j is x_0 + the sum of exp(x_m) for 1 <= m <= j)."""
    tail = np.cumsum(grad[:k][::-1])[::-1]
    return np.concatenate([tail * np.exp(np.r_[0.0, x[1:k]]), grad[k:]])


def _design(
    data: pd.DataFrame, outcome: str, condition: str, levels: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray, list[str], tuple[str, ...]]:
    """Rating codes 0..K-1 (observed categories), treatment-coded condition, names."""
    values = data[condition].astype(str)
    present = set(values.unique())
    found = tuple(lv for lv in (levels or sorted(present)) if lv in present)
    if present - set(found):
        raise ValueError(f"{condition}: levels {sorted(present - set(found))} are not in levels")
    if len(found) < 2:
        raise NotEnoughData(
            f"only one condition ({', '.join(found)}) has ratings: there is nothing to compare"
        )
    X = np.column_stack([(values == lv).to_numpy(float) for lv in found[1:]])
    codes = np.unique(data[outcome].to_numpy(float), return_inverse=True)[1]
    return codes.astype(float), X, [f"{condition}[{lv}]" for lv in found[1:]], found


def _enough(data: pd.DataFrame, outcome: str, participant: str, stimulus: str) -> None:
    if data[participant].nunique() < 3:
        raise NotEnoughData(
            f"only {data[participant].nunique()} participants (a model needs 3 or more)"
        )
    if data[stimulus].nunique() < 2:
        raise NotEnoughData("only one stimulus was rated (a model needs 2 or more)")
    if data[outcome].nunique() < 2:
        raise NotEnoughData(
            f"every rating is {data[outcome].iloc[0]:g}: there is no threshold to estimate"
        )


def fit_ordinal_mixed(
    data: pd.DataFrame,
    *,
    outcome: str = "rating",
    condition: str = "condition",
    participant: str = "participant",
    stimulus: str = "stimulus",
    levels: Sequence[str] | None = None,
    scale: Sequence[float] = tuple(range(1, 8)),
) -> OrdinalMixedResult:
    """Fit ``outcome ~ condition + (1 | participant) + (1 | stimulus)`` (cumulative logit).

    Parameters
    ----------
    data : one row per trial; rows without a rating are dropped.
    outcome : numeric ordinal column (the rating).
    condition : categorical column, treatment-coded against ``levels[0]``.
    levels : order of the condition levels (first = reference; default sorted).
    scale : the possible ratings; those never chosen are listed in ``unused``.

    Raises
    ------
    NotEnoughData if the data cannot identify the model (one condition, one rating
    value, fewer than 3 participants or 2 stimuli).
    """
    check_columns(
        data,
        {outcome: "numeric", condition: "any", participant: "any", stimulus: "any"},
        where="ratings",
    )
    data = data.loc[data[outcome].notna()]
    _enough(data, outcome, participant, stimulus)
    codes, X, names, found = _design(data, outcome, condition, levels)
    pid, sid = pd.factorize(data[participant])[0], pd.factorize(data[stimulus])[0]
    prob = make_problem(codes, X, pid, sid)
    categories = tuple(np.unique(data[outcome].to_numpy(float)))
    raw, cov, loglik, notes = _optimise(prob, len(categories) - 1)
    return _result(prob, raw, cov, loglik, notes, names, found, categories, scale)


def _start(prob: Problem, k: int) -> np.ndarray:
    """Marginal cumulative logits as thresholds, beta 0, SDs 0.5 (optimiser coordinates)."""
    shares = np.cumsum(np.bincount(prob.y.astype(int), minlength=k + 1))[:-1] / len(prob.y)
    cuts = np.log(shares / (1.0 - shares))
    return np.concatenate([[cuts[0]], np.log(np.diff(cuts)), np.zeros(prob.X.shape[1]), [0.5, 0.5]])


def _minimise(
    laplace: _Laplace, start: np.ndarray, k: int, ftol: float = 1e-12, gtol: float = 1e-7
) -> optimize.OptimizeResult:
    bounds = [(None, None)] * (len(start) - 2) + [(0.0, _SIGMA_MAX)] * 2

    def deviance(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = laplace.gradient(_to_raw(x, k))
        return value, _gradient_to_optimiser(x, grad, k)

    return optimize.minimize(
        deviance,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": ftol, "gtol": gtol, "maxiter": 500},
    )


def _subsample_start(prob: Problem, k: int) -> np.ndarray:
    """Start values: the optimum of a subsample's fit when the data are large (each
    deviance evaluation then costs a tenth, and the full fit needs few iterations from
    there), else ``_start``."""
    start = _start(prob, k)
    if prob.n_p <= SUBSAMPLE_ABOVE:
        return start
    small = subsample(prob)
    if np.unique(small.y).size < k + 1:  # a rating nobody in the subsample chose
        return start
    # Sampling error of the subsample's estimates is far above these tolerances; the
    # full fit then runs to the strict ones.
    x = _minimise(_Laplace(small, k), start, k, ftol=1e-8, gtol=1e-4).x
    x[-2:] = np.maximum(x[-2:], 0.05)  # off the boundary, as analysis.glmm starts stage 1
    return x


def _optimise(prob: Problem, k: int) -> tuple[np.ndarray, np.ndarray, float, list[str]]:
    """Minimise the Laplace deviance; covariance from the Hessian at the optimum."""
    laplace = _Laplace(prob, k)
    with threadpool_limits(limits=1, user_api="blas"):
        # Many small dense solves: BLAS threads only add contention (as in analysis.glmm).
        return _fit_and_hessian(laplace, k)


def _fit_and_hessian(laplace: _Laplace, k: int) -> tuple[np.ndarray, np.ndarray, float, list[str]]:
    fit = _minimise(laplace, _subsample_start(laplace.prob, k), k)
    notes = [] if fit.success else [f"optimiser: {fit.message}"]
    raw = _to_raw(fit.x, k)
    raw[-2:] = np.where(raw[-2:] < SINGULAR_BELOW, 0.0, raw[-2:])
    free = np.ones(len(raw), bool)
    free[-2:] = raw[-2:] > 0  # an SD on the boundary is left out, as clmm does
    full = np.full((len(raw), len(raw)), np.nan)
    try:
        full[np.ix_(free, free)] = np.linalg.inv(
            gradient_hessian(lambda r: laplace.gradient(r)[1], raw, free)
        )
    except np.linalg.LinAlgError:
        notes.append("Hessian is singular: standard errors are not available")
    if np.any(np.diag(full)[free] <= 0):
        notes.append("Hessian is not positive definite: standard errors are not reliable")
    return raw, full, -laplace(raw), notes


def _wald(
    names: Sequence[str], est: np.ndarray, se: np.ndarray, df: np.ndarray, key: str
) -> pd.DataFrame:
    named = pd.DataFrame({key: list(names), "estimate": est, "se": se})
    return pd.concat([named, wald_t(est, se, df)], axis=1)


def _result(
    prob: Problem,
    raw: np.ndarray,
    cov: np.ndarray,
    loglik: float,
    notes: list[str],
    names: list[str],
    found: tuple[str, ...],
    categories: tuple[float, ...],
    scale: Sequence[float],
) -> OrdinalMixedResult:
    k, p = len(categories) - 1, len(names)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(cov))
    labels = [f"{lo:g}|{hi:g}" for lo, hi in zip(categories[:-1], categories[1:], strict=True)]
    # The thresholds play the intercept's part: df by the rule with an intercept column.
    df = between_within_df(np.column_stack([np.ones(len(prob.y)), prob.X]), prob.pid, prob.sid)
    coefficients = _wald(names, raw[k : k + p], se[k : k + p], df[1:], "term")
    for src, dst in (
        ("estimate", "odds_ratio"),
        ("ci_low", "or_ci_low"),
        ("ci_high", "or_ci_high"),
    ):
        coefficients[dst] = np.exp(coefficients[src])
    if np.any(np.abs(raw[k : k + p]) > 10):
        notes.append("a condition effect exceeds 10 on the logit scale: probable separation")
    return OrdinalMixedResult(
        coefficients=coefficients,
        # A threshold's test against 0 means nothing; its interval does.
        thresholds=_wald(labels, raw[:k], se[:k], df[0], "threshold").drop(
            columns=["t", "p_value"]
        ),
        random_effects=pd.DataFrame({"group": ["participant", "stimulus"], "sd": raw[-2:]}),
        loglik=loglik,
        n_obs=len(prob.y),
        n_participants=prob.n_p,
        n_stimuli=prob.n_s,
        levels=found,
        cov=cov[k : k + p, k : k + p],
        categories=categories,
        unused=tuple(float(v) for v in scale if v not in categories),
        warnings=tuple(notes),
    )
