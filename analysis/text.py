"""Numbers for print: APA-style p-values, intervals and readable table headers.

Every sentence and table of the report formats its numbers here, so a value
reads the same in the text and in the table it comes from.
"""

from __future__ import annotations

import math

import pandas as pd

# Column names of the tables as a reader sees them (CSV files keep the machine names).
_HEADERS = {
    "condition": "Condition",
    "model_correct": "Model",
    "n_trials": "Trials",
    "n_correct": "Correct",
    "n_participants": "Participants",
    "accuracy": "Accuracy",
    "probability": "P(correct)",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "se": "SE",
    "group": "Group",
    "sd": "SD",
    "corr_intercept": "Correlation with intercept",
    "dprime": "d′",
    "dprime_se": "d′ SE",
    "dprime_ci_low": "d′ 95% CI low",
    "dprime_ci_high": "d′ 95% CI high",
    "criterion": "c",
    "criterion_se": "c SE",
    "criterion_ci_low": "c 95% CI low",
    "criterion_ci_high": "c 95% CI high",
    "dprime_difference": "d′ difference",
    "p_holm": "p (Holm)",
    "se_conditional": "SE (given variances)",
    "estimate": "Estimate",
    "term": "Term",
    "z": "z",
    "t": "t",
    "p_value": "p",
    "p_adjusted": "p (adjusted)",
    "adjustment": "Adjustment",
    "odds_ratio": "OR",
    "or_ci_low": "OR 95% CI low",
    "or_ci_high": "OR 95% CI high",
    "log_or": "log OR",
    "a": "Condition a",
    "b": "Condition b",
    "design": "Design",
    "rule": "Rule",
    "participants_removed": "Participants removed",
    "trials_removed": "Trials removed",
    "participants_remaining": "Participants remaining",
    "trials_remaining": "Trials remaining",
    "ratio": "RT ratio",
    "ratio_ci_low": "Ratio 95% CI low",
    "ratio_ci_high": "Ratio 95% CI high",
    "statistic": "Statistic",
    "df": "df",
    "chi2": "χ²",
    "loglik": "log L",
    "model": "Model",
    "verdict": "Verdict",
    "q_value": "q (FDR)",
    "difference": "Difference",
    "stimulus": "Stimulus",
    "p_t": "p (t)",
    "p_rank": "p (rank)",
    "p_t_holm": "p (t, Holm)",
    "p_rank_holm": "p (rank, Holm)",
    "n_a": "n a",
    "n_b": "n b",
    "mean_a": "Mean a",
    "mean_b": "Mean b",
    "test": "Test",
    "threshold": "Threshold",
}


_P_COLUMNS = {"p_value", "p_adjusted", "q_value", "p_t", "p_rank", "p_t_holm", "p_rank_holm"}


def format_p(p: float) -> str:
    """APA style, three decimals without the leading zero: ``p = .014``, ``p < .001``."""
    if p is None or not math.isfinite(p):
        return "p = n/a"
    if p < 0.001:
        return "p < .001"
    text = f"{p:.3f}"
    return "p = 1" if text == "1.000" else "p = " + text.lstrip("0")


def p_cell(p: float) -> str:
    """A p-value for a table cell: ``.014``, ``< .001``."""
    return format_p(p).removeprefix("p = ").removeprefix("p ")


def format_number(x: float, digits: int = 2) -> str:
    """Fixed decimals, a real minus sign, n/a for missing or infinite values."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.{digits}f}".replace("-", "−")


def format_t(t: float, df: float) -> str:
    """A Wald statistic with its reference: ``t(38) = 2.10``; ``z = 2.10`` when df is
    infinite (the normal reference)."""
    if df is None or not math.isfinite(df):
        return f"z = {format_number(t)}"
    return f"t({df:.0f}) = {format_number(t)}"


def format_ci(low: float, high: float, digits: int = 2, level: int = 95) -> str:
    """``95% CI [1.06, 1.66]``."""
    return f"{level}% CI [{format_number(low, digits)}, {format_number(high, digits)}]"


def format_percent(x: float, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage: ``72.1%``."""
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.{digits}f}%"


def readable(table: pd.DataFrame, max_rows: int = 40) -> pd.DataFrame:
    """A table for print: readable headers, p-values in APA style, 3 significant digits.

    Long tables keep their first and last ``max_rows // 2`` rows (the CSV has all).
    """
    shown = (
        table
        if len(table) <= max_rows
        else pd.concat([table.head(max_rows // 2), table.tail(max_rows // 2)])
    )
    out = shown.copy()
    for col in out.columns:
        if _is_p_column(col):
            out[col] = out[col].map(lambda x: "" if pd.isna(x) else p_cell(float(x)))
        elif col == "df" and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda x: "" if pd.isna(x) else _df_cell(float(x)))
        elif pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda x: "" if pd.isna(x) else _significant(float(x)))
    return out.rename(columns=lambda c: _HEADERS.get(c, c.replace("_", " ")))


def _is_p_column(name: str) -> bool:
    """p- and q-values (not ``p_1`` ... ``p_7``, the shares of rating scale points)."""
    return name in _P_COLUMNS or name.endswith("p_value")


def _df_cell(x: float) -> str:
    """Degrees of freedom: whole (the between-within rule's counts) or Welch's one decimal."""
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.0f}" if x == round(x) else f"{x:.1f}"


def _significant(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.3f}" if abs(x) < 1000 else f"{x:.0f}"
