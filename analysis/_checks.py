"""One place that checks a DataFrame's columns before a statistic touches it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

# Kinds a column may be required to have; "any" only checks presence.
_KIND_TESTS = {
    "numeric": pd.api.types.is_numeric_dtype,
    "bool": lambda s: pd.api.types.is_bool_dtype(s) or _is_01(s),
    "any": lambda s: True,
}


def _is_01(series: pd.Series) -> bool:
    """True if a numeric column holds only 0/1 (a boolean stored as numbers)."""
    if not pd.api.types.is_numeric_dtype(series):
        return False
    values = series.dropna().unique()
    return bool(np.isin(values, (0, 1)).all())


def check_columns(
    data: pd.DataFrame,
    columns: Mapping[str, str] | Iterable[str],
    *,
    where: str = "data",
    min_rows: int = 0,
) -> None:
    """Raise ``ValueError`` naming the first missing or malformed column.

    Parameters
    ----------
    data : DataFrame to check.
    columns : column names, or a mapping name -> kind ("numeric", "bool", "any").
    where : what the frame is, for the message (e.g. "trials.csv").
    min_rows : fewest rows the frame must have.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{where}: expected a pandas DataFrame, got {type(data).__name__}")
    kinds = dict(columns) if isinstance(columns, Mapping) else dict.fromkeys(columns, "any")
    for name, kind in kinds.items():
        if name not in data.columns:
            raise ValueError(f"{where}: missing column {name!r}")
        if not _KIND_TESTS[kind](data[name]):
            raise ValueError(
                f"{where}: column {name!r} must be {kind}, got dtype {data[name].dtype}"
            )
    if len(data) < min_rows:
        raise ValueError(f"{where}: needs at least {min_rows} rows, got {len(data)}")
