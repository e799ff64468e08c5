"""The export's cell codec: one text per value and dtype, read back by the analysis as written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contracts import export_format as ef


@pytest.mark.parametrize(
    ("value", "dtype", "text"),
    [
        (None, "number", ""),
        (float("nan"), "number", ""),
        (1234.5678, "number", "1234.568"),
        (2.0, "number", "2"),
        (1234567.0, "number", "1234567"),  # no exponent notation, whatever the size
        (-0.0001, "number", "0"),
        (np.float64(0.25), "number", "0.25"),
        (7, "integer", "7"),
        (np.int64(7), "integer", "7"),
        (True, "boolean", "true"),
        (np.bool_(False), "boolean", "false"),
        ("a,b", "string", "a,b"),
        (datetime(2026, 12, 2, 20, 0, tzinfo=UTC), "datetime", "2026-12-02T20:00:00.000000Z"),
        (
            datetime(2026, 12, 2, 21, 0, 0, 5, tzinfo=timezone(timedelta(hours=1))),
            "datetime",
            "2026-12-02T20:00:00.000005Z",
        ),
        (pd.Timestamp("2026-12-02T20:00:00.123456Z"), "datetime", "2026-12-02T20:00:00.123456Z"),
    ],
)
def test_each_dtype_is_written_one_way(value: object, dtype: str, text: str) -> None:
    assert ef.encode_cell(value, dtype) == text


def test_a_naive_datetime_or_an_unknown_dtype_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        ef.encode_cell(datetime(2026, 12, 2), "datetime")
    with pytest.raises(ValueError, match="unknown export dtype 'decimal'"):
        ef.encode_cell(1, "decimal")


def test_what_the_analysis_writes_it_reads_back_equal(tmp_path: Path) -> None:
    from analysis.io import load_export, write_export
    from analysis.simulate import SimulationSpec, simulate_study

    study = simulate_study(SimulationSpec(n_participants=4, n_trials=10, seed=3))
    write_export(
        tmp_path / "export",
        trials=study.trials,
        participants=study.participants,
        events=study.events,
        study="codec",
        title="codec",
    )
    back = load_export(tmp_path / "export", events=True)
    for name in ("rt_ms", "answered_at", "model_correct", "trial_position"):
        written = study.trials[name]
        if written.dtype.kind == "f":
            np.testing.assert_allclose(back.trials[name], written.round(3), atol=1e-9)
        elif name == "answered_at":
            expected = pd.to_datetime(written, utc=True).dt.floor("us")
            assert (back.trials[name] == expected).all()
        else:
            assert (back.trials[name].to_numpy() == written.to_numpy()).all()
