"""Pairwise contrasts between condition levels from a treatment-coded fit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis._wald import combination_df, wald_t
from contracts.export_format import MODALITIES


def condition_levels(values: pd.Series) -> list[str]:
    """Levels in a stable, meaningful order: modalities first (visual, audible, both,
    none), then any other condition names alphabetically. The first is the reference."""
    present = set(values.astype(str).unique())
    known = [m for m in MODALITIES if m in present]
    return known + sorted(present - set(known))


def all_pairs(levels: Sequence[str]) -> list[tuple[str, str]]:
    """Every (a, b) pair with a before b in ``levels``."""
    return [(levels[i], levels[j]) for i in range(len(levels)) for j in range(i + 1, len(levels))]


def contrast_table(
    beta: np.ndarray,
    cov: np.ndarray,
    terms: Sequence[str],
    levels: Sequence[str],
    pairs: Sequence[tuple[str, str]] | None,
    *,
    df: np.ndarray | None = None,
    prefix: str = "condition",
) -> pd.DataFrame:
    """Log odds ratio of ``b`` over ``a`` for each pair: Wald SE, t, p and 95% CI on
    the contrast's between-within df (``df``: one per term, ``analysis._wald``);
    ``df`` None: the normal reference (GEE's robust z test).

    Returns
    -------
    DataFrame with ``a``, ``b``, ``log_or``, ``se``, ``t`` and ``df`` (or ``z``
    without ``df``), ``p_value``, ``ci_low``, ``ci_high``, ``odds_ratio``,
    ``or_ci_low``, ``or_ci_high``.
    """
    pairs = all_pairs(levels) if pairs is None else pairs
    terms = list(terms)
    rows = []
    for a, b in pairs:
        vec = np.zeros(len(terms))
        for level, sign in ((b, 1.0), (a, -1.0)):
            if level not in levels:
                raise ValueError(f"unknown condition {level!r}; levels are {list(levels)}")
            if level != levels[0]:
                vec[terms.index(f"{prefix}[{level}]")] += sign
        rows.append(
            {
                "a": a,
                "b": b,
                "log_or": float(vec @ beta),
                "se": float(np.sqrt(vec @ cov @ vec)),
                "df": np.inf if df is None else combination_df(df, vec),
            }
        )
    out = pd.DataFrame(rows, columns=["a", "b", "log_or", "se", "df"])
    out = pd.concat(
        [out.drop(columns="df"), wald_t(out["log_or"], out["se"], out["df"].to_numpy())], axis=1
    )
    if df is None:
        out = out.drop(columns="df").rename(columns={"t": "z"})
    for src, dst in (("log_or", "odds_ratio"), ("ci_low", "or_ci_low"), ("ci_high", "or_ci_high")):
        out[dst] = np.exp(out[src])
    return out
