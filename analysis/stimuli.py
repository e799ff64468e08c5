"""Which stimuli an explanation helped or misled on, with the multiplicity controlled.

A study has tens of stimuli with a handful of trials per stimulus and
condition, so per-stimulus differences are noisy and many are tested at once.
Each stimulus gets the difference in accuracy between two conditions with a
Newcombe (hybrid Wilson) 95% interval and Fisher's exact p-value; a verdict is
given only where the Benjamini-Hochberg q-value over all stimuli is below alpha.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep

from analysis._checks import check_columns


def stimulus_effects(
    trials: pd.DataFrame,
    *,
    a: str,
    b: str,
    alpha: float = 0.05,
    condition: str = "condition",
    outcome: str = "answer_correct",
    stimulus: str = "stimulus",
) -> pd.DataFrame:
    """Per-stimulus accuracy difference of condition ``b`` over ``a``.

    Returns
    -------
    DataFrame, one row per stimulus seen in both conditions, with ``stimulus``,
    ``n_a``, ``n_b``, ``accuracy_a``, ``accuracy_b``, ``difference`` (b - a),
    ``ci_low``, ``ci_high`` (Newcombe 95%), ``p_value`` (Fisher exact, two-sided),
    ``q_value`` (Benjamini-Hochberg over the rows) and ``verdict`` ("helped",
    "misled" where q < alpha, else "no clear difference").
    """
    check_columns(trials, {condition: "any", outcome: "bool", stimulus: "any"}, where="trials")
    cells = (
        trials.assign(_y=trials[outcome].astype(int))
        .groupby([stimulus, condition])["_y"]
        .agg(["size", "sum"])
        .unstack(condition)
    )
    if a not in cells["size"] or b not in cells["size"]:
        return pd.DataFrame(columns=["stimulus", "difference", "ci_low", "ci_high", "verdict"])
    both = cells.loc[(cells["size"][a] > 0) & (cells["size"][b] > 0)]
    n_a, k_a = both["size"][a].to_numpy(int), both["sum"][a].to_numpy(int)
    n_b, k_b = both["size"][b].to_numpy(int), both["sum"][b].to_numpy(int)
    low, high = confint_proportions_2indep(k_b, n_b, k_a, n_a, method="newcomb", compare="diff")
    p = np.array(
        [
            fisher_exact([[kb, nb - kb], [ka, na - ka]]).pvalue
            for kb, nb, ka, na in zip(k_b, n_b, k_a, n_a, strict=True)
        ]
    )
    q = multipletests(p, method="fdr_bh")[1] if len(p) else p
    out = pd.DataFrame(
        {
            "stimulus": both.index.to_numpy(),
            "n_a": n_a,
            "n_b": n_b,
            "accuracy_a": k_a / n_a,
            "accuracy_b": k_b / n_b,
            "difference": k_b / n_b - k_a / n_a,
            "ci_low": np.asarray(low, float),
            "ci_high": np.asarray(high, float),
            "p_value": p,
            "q_value": q,
        }
    )
    out["verdict"] = np.where(
        out["q_value"] < alpha,
        np.where(out["difference"] > 0, "helped", "misled"),
        "no clear difference",
    )
    return out.sort_values(["q_value", "stimulus"]).reset_index(drop=True)
