"""Shared machinery of the crossed (participant x stimulus) random-intercept models.

Each trial has exactly one participant, so the participant block of the
penalised normal equations is diagonal and is eliminated exactly; what remains
is a dense Schur complement over the stimulus effects (plus, optionally, the
fixed effects), built in participant chunks with BLAS rank-k updates. Used by
``analysis.glmm`` (logistic, Laplace), ``analysis.lmm`` (Gaussian, REML) and
``analysis.ordinal`` (cumulative logit, Laplace; through ``random_effect_step``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, sparse

from analysis._checks import check_columns
from analysis._errors import NotEnoughData

# Above this many stimuli the O(n_p * n_s^2) dense update loses to a sparse product.
SPARSE_ABOVE = 400
_CHUNK_CELLS = 4_000_000  # doubles per dense chunk of B (32 MB)
# Larger fits start their optimisation from a fit to a subsample of this many participants.
SUBSAMPLE_ABOVE = 4000
SUBSAMPLE_SIZE = 2000


@dataclass
class Problem:
    """Data of one fit, sorted by participant so participant chunks are slices."""

    y: np.ndarray  # (n,) 0/1 floats
    X: np.ndarray  # (n, p) fixed-effect design
    pid: np.ndarray  # (n,) participant index, non-decreasing
    sid: np.ndarray  # (n,) stimulus index
    n_p: int
    n_s: int
    starts: np.ndarray  # (n_p + 1,) first observation of each participant
    Z: np.ndarray  # (n, q) design of the stimulus random effects (column 0: intercept)
    cols: np.ndarray  # (n, q) stimulus-effect index of each trial's q loadings

    @property
    def q(self) -> int:
        """Random effects per stimulus (1: intercept only; more: random slopes)."""
        return self.Z.shape[1]

    @property
    def m_s(self) -> int:
        """Length of the stacked stimulus effects (n_s * q)."""
        return self.n_s * self.q

    def chunks(self, width: int) -> list[tuple[int, int]]:
        """Participant ranges whose dense B block has at most _CHUNK_CELLS entries."""
        step = max(1, _CHUNK_CELLS // max(width, 1))
        return [(a, min(a + step, self.n_p)) for a in range(0, self.n_p, step)]


def fixed_design(
    data: pd.DataFrame,
    condition: str | None,
    covariates: Sequence[str],
    levels: Sequence[str] | None,
    *,
    where: str,
) -> tuple[np.ndarray, list[str], tuple[str, ...]]:
    """Fixed-effect design of the crossed models: intercept, treatment-coded condition,
    numeric (or boolean) covariates as given.

    Parameters
    ----------
    data : one row per trial, shape (n, ...).
    condition : column coded against its first level (None: intercept and covariates only).
    covariates : numeric or boolean columns, entered as they are.
    levels : level order of ``condition`` (default: sorted); levels without trials
        raise ``NotEnoughData``, trial levels missing from it raise ``ValueError``.
    where : name of the data in error messages (e.g. "glmm data").

    Returns
    -------
    (X, names, found): X (n, p) floats; ``names`` of its p columns
    (``"Intercept"``, ``"condition[level]"``, covariate names); the levels found,
    reference first.
    """
    n = len(data)
    columns, names = [np.ones(n)], ["Intercept"]
    found: tuple[str, ...] = ()
    if condition is not None:
        values = data[condition].astype(str)
        present = set(values.unique())
        found = tuple(lv for lv in (levels or sorted(present)) if lv in present)
        missing = present - set(found)
        if missing:
            raise ValueError(
                f"{condition}: levels {sorted(missing)} are not in the given level order"
            )
        absent = [lv for lv in (levels or ()) if lv not in present]
        if absent:
            raise NotEnoughData(f"{condition}: no trials in level(s) {absent}")
        for level in found[1:]:
            columns.append((values == level).to_numpy(float))
            names.append(f"{condition}[{level}]")
    for name in covariates:
        check_columns(data, {name: "numeric"} if data[name].dtype != bool else [name], where=where)
        columns.append(data[name].to_numpy(float))
        names.append(name)
    return np.column_stack(columns), names, found


def make_problem(
    y: np.ndarray, X: np.ndarray, pid: np.ndarray, sid: np.ndarray, Z: np.ndarray | None = None
) -> Problem:
    """Sort trials by participant (stable) and index where each participant starts.

    ``pid`` and ``sid`` are 0-based integer codes (``pandas.factorize``), shape (n,);
    ``Z`` (n, q) is the design of the stimulus random effects (default: intercept only).
    """
    order = np.argsort(pid, kind="stable")
    pid_sorted = pid[order]
    n_p = int(pid.max()) + 1
    starts = np.searchsorted(pid_sorted, np.arange(n_p + 1))
    Z = np.ones((len(y), 1)) if Z is None else np.asarray(Z, dtype=float)
    q = Z.shape[1]
    sid_sorted = sid[order]
    return Problem(
        y[order].astype(float),
        np.ascontiguousarray(X[order], dtype=float),
        pid_sorted,
        sid_sorted,
        n_p,
        int(sid.max()) + 1,
        starts,
        np.ascontiguousarray(Z[order]),
        sid_sorted[:, None] * q + np.arange(q),
    )


def subsample(prob: Problem, keep: int = SUBSAMPLE_SIZE) -> Problem:
    """Every k-th participant (deterministic), about ``keep`` of them: a cheap, close
    start for large fits.

    Only the starting point of the full optimisation comes from it, so the final
    estimates do not depend on which participants were taken.
    """
    step = int(np.ceil(prob.n_p / keep))
    chosen = np.zeros(prob.n_p, bool)
    chosen[::step] = True
    rows = chosen[prob.pid]
    pid = np.cumsum(chosen)[prob.pid[rows]] - 1
    sid = pd.factorize(prob.sid[rows])[0]
    return make_problem(prob.y[rows], prob.X[rows], pid, sid, prob.Z[rows])


def stimulus_sum(prob: Problem, values: np.ndarray) -> np.ndarray:
    """Sum (n, q) per-trial loadings into the stacked stimulus effects, shape (n_s * q,)."""
    out = np.zeros(prob.m_s)
    for k in range(prob.q):
        out += np.bincount(prob.cols[:, k], values[:, k], prob.m_s)
    return out


def dense_block(
    prob: Problem, w: np.ndarray, dp: np.ndarray, sp: float, A: np.ndarray, free_beta: bool
) -> np.ndarray:
    """Schur complement S = E - B' D_p^-1 B of the (beta?, stimulus) block.

    ``w`` are trial weights (n,), ``dp`` the participant diagonal (n_p,), ``sp``
    the participant scale factor and ``A`` (n, q) each trial's stimulus loadings
    (``Z`` times the relative covariance factor, a scalar SD with intercepts
    only); with ``free_beta`` the fixed effects come first in S, which is then
    (p + n_s q, p + n_s q).
    """
    p = prob.X.shape[1] if free_beta else 0
    q, m_s = prob.q, prob.m_s
    m = p + m_s
    S = np.zeros((m, m))
    # Each stimulus' own q x q block of Z'WZ (trials of one stimulus share one block).
    base = (prob.sid * q)[:, None]
    for k in range(q):
        for j in range(q):
            S[p:, p:] += np.bincount(
                (base[:, 0] + k) * m_s + base[:, 0] + j, w * A[:, k] * A[:, j], m_s * m_s
            ).reshape(m_s, m_s)
    S[p:, p:] += np.eye(m_s)
    WA = A * w[:, None]
    if free_beta:
        Xw = prob.X * w[:, None]
        S[:p, :p] = prob.X.T @ Xw
        cross = np.stack([stimulus_sum(prob, WA * prob.X[:, [j]]) for j in range(p)])
        S[:p, p:] = cross
        S[p:, :p] = cross.T
    if m_s > SPARSE_ABOVE:
        _subtract_sparse(S, prob, w, dp, sp, WA, p)
        return S
    for a, b in prob.chunks(m):
        o0, o1 = prob.starts[a], prob.starts[b]
        local = (prob.pid[o0:o1] - a)[:, None] * m_s + prob.cols[o0:o1]
        size = b - a
        block = np.zeros((size, m))
        if free_beta:
            for j in range(p):
                block[:, j] = sp * psum(prob, Xw[:, j], a, b)
        cells = np.zeros(size * m_s)
        for k in range(q):
            cells += np.bincount(local[:, k], WA[o0:o1, k], size * m_s)
        block[:, p:] = sp * cells.reshape(size, m_s)
        block *= (1.0 / np.sqrt(dp[a:b]))[:, None]
        S -= block.T @ block  # numpy runs A'A as a symmetric rank-k update
    return S


def _subtract_sparse(
    S: np.ndarray, prob: Problem, w: np.ndarray, dp: np.ndarray, sp: float, WA: np.ndarray, p: int
) -> None:
    """S -= B' D_p^-1 B with B sparse: O(n_participants * trials^2), whatever n_stimuli.

    Rows are participants; repeated (participant, stimulus effect) cells are summed
    by the COO -> CSR conversion.
    """
    scale = 1.0 / np.sqrt(dp)
    rows = np.repeat(prob.pid, prob.q)
    C = sparse.csr_matrix(
        (
            (sp * WA * scale[prob.pid][:, None]).ravel(),
            (rows, prob.cols.ravel()),
        ),
        shape=(prob.n_p, prob.m_s),
    )
    S[p:, p:] -= (C.T @ C).toarray()
    if p:
        Xw = prob.X * w[:, None]
        bx = np.column_stack([sp * psum(prob, Xw[:, j]) for j in range(p)]) * scale[:, None]
        cross = np.asarray(C.T @ bx).T
        S[:p, :p] -= bx.T @ bx
        S[:p, p:] -= cross
        S[p:, :p] -= cross.T


def psum(prob: Problem, values: np.ndarray, a: int = 0, b: int | None = None) -> np.ndarray:
    """Per-participant sums for participants a..b (trials are sorted by participant)."""
    b = prob.n_p if b is None else b
    o0 = prob.starts[a]
    return np.add.reduceat(values[o0 : prob.starts[b]], prob.starts[a:b] - o0)


@dataclass(frozen=True)
class EffectHessian:
    """Factored Hessian ``H = [[D_p, B], [B', E]]`` of the negative penalised
    log-likelihood in the spherical random effects (``Lambda' W Lambda + I``), with the
    diagonal participant block ``D_p`` eliminated: ``chol`` is the Cholesky factor of
    the stimulus Schur complement ``E - B' D_p^-1 B``.
    """

    prob: Problem
    weight: np.ndarray  # (n,) trial weights W
    sp: float
    A: np.ndarray  # (n, q) stimulus loadings
    dp: np.ndarray  # (n_p,) the diagonal D_p
    chol: tuple[np.ndarray, bool]

    @property
    def logdet(self) -> float:
        """log det H (the Laplace approximation's term)."""
        return float(np.log(self.dp).sum() + 2.0 * np.log(np.diag(self.chol[0])).sum())

    def solve(self, gp: np.ndarray, gs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """H^-1 (gp, gs), for gp (n_p,) and gs (n_s q,)."""
        prob, w, sp, A, dp = self.prob, self.weight, self.sp, self.A, self.dp
        t = w * (gp / dp)[prob.pid]  # B' D_p^-1 g_p, trial by trial
        xs = linalg.cho_solve(self.chol, gs - sp * stimulus_sum(prob, A * t[:, None]))
        back = w * (A * xs[prob.cols]).sum(axis=1)
        return (gp - sp * psum(prob, back)) / dp, xs

    def trial_inverse(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Entries of H^-1 at each trial's (participant, stimulus) pair, intercepts only
        (q = 1): ``(H^-1[p, p], H^-1[p, s], H^-1[s, s])``, each (n,).

        From the block inverse: ``H^-1_ss = S^-1``, ``H^-1_ps = -D_p^-1 B S^-1``,
        ``H^-1_pp = D_p^-1 + D_p^-1 B S^-1 B' D_p^-1``; ``B S^-1`` is formed in
        participant chunks of at most _CHUNK_CELLS entries.
        """
        prob, dp = self.prob, self.dp
        if prob.q != 1:
            raise ValueError("trial_inverse is written for random intercepts only (q = 1)")
        M = linalg.cho_solve(self.chol, np.eye(prob.n_s))
        cell = self.sp * self.weight * self.A[:, 0]  # B's entries, trial by trial
        bm = np.empty(len(prob.y))  # (B S^-1)[p(i), s(i)]
        for a, b in prob.chunks(prob.n_s):
            o0, o1 = prob.starts[a], prob.starts[b]
            # Trials are sorted by participant, so they are B's CSR rows as they stand
            # (repeated stimuli within a row are summed by the product).
            B = sparse.csr_matrix(
                (cell[o0:o1], prob.sid[o0:o1], prob.starts[a : b + 1] - o0),
                shape=(b - a, prob.n_s),
            )
            bm[o0:o1] = np.asarray(B @ M)[prob.pid[o0:o1] - a, prob.sid[o0:o1]]
        pp = (1.0 + psum(prob, cell * bm) / dp) / dp
        return pp[prob.pid], -bm / dp[prob.pid], np.diag(M)[prob.sid]


def random_effect_step(
    prob: Problem,
    score: np.ndarray,
    weight: np.ndarray,
    up: np.ndarray,
    us: np.ndarray,
    sp: float,
    A: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, EffectHessian]:
    """Newton step of the spherical random effects for fixed beta, and the Hessian.

    ``score`` (n,) is d loglik / d eta per trial and ``weight`` (n,) the negative second
    derivative (positive); ``A`` (n, q) the trials' stimulus loadings. The Hessian
    ``[[D_p, B], [B', E]]`` of the penalised log-likelihood is solved by eliminating the
    diagonal participant block.

    Returns
    -------
    (step of u_p (n_p,), step of u_s (n_s q,), the factored Hessian at (up, us))
    """
    gp = sp * psum(prob, score) - up
    gs = stimulus_sum(prob, A * score[:, None]) - us
    dp = sp * sp * psum(prob, weight) + 1.0
    chol = linalg.cho_factor(dense_block(prob, weight, dp, sp, A, False), lower=True)
    hessian = EffectHessian(prob, weight, sp, A, dp, chol)
    return *hessian.solve(gp, gs), hessian


def central_hessian(
    fun: Callable[[np.ndarray], float], x: np.ndarray, free: np.ndarray, h: float = 1e-3
) -> tuple[np.ndarray, np.ndarray, float]:
    """Central-difference gradient and Hessian over the coordinates in ``free``, with
    steps ``h * max(1, |x|)``; k(k + 1) + 1 evaluations for k free coordinates.

    Returns (gradient, Hessian, f(x)) restricted to the free coordinates.
    """
    idx = np.flatnonzero(free)
    steps = h * np.maximum(1.0, np.abs(x))
    f0 = fun(x)
    k = len(idx)
    H, g = np.zeros((k, k)), np.zeros(k)

    def at(*moves: tuple[int, float]) -> float:
        z = x.copy()
        for j, sign in moves:
            z[j] += sign * steps[j]
        return float(fun(z))

    ups, downs = np.zeros(k), np.zeros(k)
    for a, i in enumerate(idx):
        ups[a], downs[a] = at((i, 1)), at((i, -1))
        g[a] = (ups[a] - downs[a]) / (2 * steps[i])
        H[a, a] = (ups[a] - 2 * f0 + downs[a]) / steps[i] ** 2
    for a, i in enumerate(idx):
        for b in range(a):
            j = idx[b]
            # Two new points per pair (Abramowitz & Stegun 25.3.27), O(h^2) like the
            # four-point stencil but 2k^2 -> k(k+1) evaluations in all.
            both = at((i, 1), (j, 1)) + at((i, -1), (j, -1))
            H[a, b] = H[b, a] = (both - ups[a] - downs[a] - ups[b] - downs[b] + 2 * f0) / (
                2 * steps[i] * steps[j]
            )
    return g, H, f0


def gradient_hessian(
    grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray, free: np.ndarray, h: float = 1e-4
) -> np.ndarray:
    """Hessian over the coordinates in ``free`` by central differences of an exact
    gradient ``grad`` (full length), steps ``h * max(1, |x|)``: 2k gradient
    evaluations for k free coordinates, symmetrised.

    Returns the (k, k) Hessian restricted to the free coordinates.
    """
    idx = np.flatnonzero(free)
    steps = h * np.maximum(1.0, np.abs(x))
    H = np.zeros((len(idx), len(idx)))
    for a, i in enumerate(idx):
        up, down = x.copy(), x.copy()
        up[i] += steps[i]
        down[i] -= steps[i]
        H[:, a] = (grad(up)[idx] - grad(down)[idx]) / (2.0 * steps[i])
    return 0.5 * (H + H.T)
