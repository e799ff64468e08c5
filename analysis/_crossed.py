"""Shared machinery of the crossed (participant x stimulus) random-intercept models.

Each trial has exactly one participant, so the participant block of the
penalised normal equations is diagonal and is eliminated exactly; what remains
is a dense Schur complement over the stimulus effects (plus, optionally, the
fixed effects), built in participant chunks with BLAS rank-k updates. Used by
``analysis.glmm`` (logistic, Laplace) and ``analysis.lmm`` (Gaussian, REML).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

# Above this many stimuli the O(n_p * n_s^2) dense update loses to a sparse product.
SPARSE_ABOVE = 400
_CHUNK_CELLS = 4_000_000  # doubles per dense chunk of B (32 MB)


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

    def chunks(self, width: int) -> list[tuple[int, int]]:
        """Participant ranges whose dense B block has at most _CHUNK_CELLS entries."""
        step = max(1, _CHUNK_CELLS // max(width, 1))
        return [(a, min(a + step, self.n_p)) for a in range(0, self.n_p, step)]


def make_problem(y: np.ndarray, X: np.ndarray, pid: np.ndarray, sid: np.ndarray) -> Problem:
    """Sort trials by participant (stable) and index where each participant starts.

    ``pid`` and ``sid`` are 0-based integer codes (``pandas.factorize``), shape (n,).
    """
    order = np.argsort(pid, kind="stable")
    pid_sorted = pid[order]
    n_p = int(pid.max()) + 1
    starts = np.searchsorted(pid_sorted, np.arange(n_p + 1))
    return Problem(
        y[order].astype(float),
        np.ascontiguousarray(X[order], dtype=float),
        pid_sorted,
        sid[order],
        n_p,
        int(sid.max()) + 1,
        starts,
    )


def dense_block(
    prob: Problem, w: np.ndarray, dp: np.ndarray, sp: float, ss: float, free_beta: bool
) -> np.ndarray:
    """Schur complement S = E - B' D_p^-1 B of the (beta?, stimulus) block.

    ``w`` are trial weights (n,), ``dp`` the participant diagonal (n_p,), ``sp``
    and ``ss`` the participant and stimulus scale factors; with ``free_beta``
    the fixed effects come first in S, which is then (p + n_s, p + n_s).
    """
    p = prob.X.shape[1] if free_beta else 0
    m = p + prob.n_s
    S = np.zeros((m, m))
    S[p:, p:] += np.diag(ss * ss * np.bincount(prob.sid, w, prob.n_s) + 1.0)
    if free_beta:
        Xw = prob.X * w[:, None]
        S[:p, :p] = prob.X.T @ Xw
        cross = np.stack([np.bincount(prob.sid, Xw[:, j], prob.n_s) for j in range(p)]) * ss
        S[:p, p:] = cross
        S[p:, :p] = cross.T
    if prob.n_s > SPARSE_ABOVE:
        _subtract_sparse(S, prob, w, dp, sp, ss, p)
        return S
    for a, b in prob.chunks(m):
        o0, o1 = prob.starts[a], prob.starts[b]
        local = prob.pid[o0:o1] - a
        size = b - a
        block = np.zeros((size, m))
        if free_beta:
            for j in range(p):
                block[:, j] = sp * psum(prob, Xw[:, j], a, b)
        cells = np.bincount(local * prob.n_s + prob.sid[o0:o1], w[o0:o1], size * prob.n_s)
        block[:, p:] = (sp * ss) * cells.reshape(size, prob.n_s)
        block *= (1.0 / np.sqrt(dp[a:b]))[:, None]
        S -= block.T @ block  # numpy runs A'A as a symmetric rank-k update
    return S


def _subtract_sparse(
    S: np.ndarray, prob: Problem, w: np.ndarray, dp: np.ndarray, sp: float, ss: float, p: int
) -> None:
    """S -= B' D_p^-1 B with B sparse: O(n_participants * trials^2), whatever n_stimuli.

    CSR rows are participants and trials are already sorted by participant, so
    the matrix is built without sorting; repeated (participant, stimulus) cells
    are summed by the product.
    """
    scale = 1.0 / np.sqrt(dp)
    C = sparse.csr_matrix(
        ((sp * ss) * w * scale[prob.pid], prob.sid, prob.starts), shape=(prob.n_p, prob.n_s)
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
