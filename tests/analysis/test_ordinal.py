"""The ratings model: its report section, and data it cannot be fitted to."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import MethodType, SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis._crossed import make_problem
from analysis._errors import NotEnoughData
from analysis.ordinal import _design, _Laplace, fit_ordinal_mixed
from analysis.sections.base import Context, Section
from analysis.sections.ratings import ratings_section
from analysis.simulate import simulate_rating_trials


def _section(trials: pd.DataFrame, levels: list[str]) -> tuple[Section, SimpleNamespace]:
    # ratings_section reads only these parts of the Context.
    ctx = SimpleNamespace(
        kept=SimpleNamespace(trials=trials), levels=levels, summary={}, wald_named=False
    )
    ctx.wald_method = MethodType(Context.wald_method, ctx)
    return ratings_section(ctx), ctx  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return simulate_rating_trials(
        np.random.default_rng(7), [0.0, 0.8], n_participants=24, n_trials=12, n_stimuli=16
    )


def test_the_section_reports_a_cumulative_odds_ratio_that_its_table_holds(
    ratings: pd.DataFrame,
) -> None:
    sec, ctx = _section(ratings, ["c0", "c1"])
    row = sec.tables["ratings_model_contrasts"].iloc[0]
    assert row["odds_ratio"] > 1  # simulated log cumulative odds ratio 0.8
    assert f"cumulative OR = {row['odds_ratio']:.2f}" in " ".join(sec.results)
    assert "(1 | participant) + (1 | stimulus)" in " ".join(sec.methods)
    assert len(sec.tables["ratings_model_thresholds"]) == ratings["rating"].nunique() - 1
    assert set(sec.tables["ratings_model_random_effects"]["group"]) == {"participant", "stimulus"}
    assert "rating_tests" in sec.tables and ctx.summary["ratings_model_contrasts"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda d: d.assign(condition="c0"),
            "only one condition (c0) has ratings: there is nothing to compare",
        ),
        (lambda d: d.assign(rating=4.0), "every rating is 4: there is no threshold to estimate"),
        (lambda d: d.loc[d["participant"] < 2], "only 2 participants (a model needs 3 or more)"),
    ],
)
def test_data_the_model_cannot_identify_give_a_reason_not_a_traceback(
    ratings: pd.DataFrame,
    change: Callable[[pd.DataFrame], pd.DataFrame],
    reason: str,
) -> None:
    bad = change(ratings)
    with pytest.raises(NotEnoughData, match=re.escape(reason)):
        fit_ordinal_mixed(bad, levels=["c0", "c1"])
    sec, _ = _section(bad, ["c0", "c1"])
    assert f"ratings model: not estimable: {reason}" in sec.notes
    assert not any(name.startswith("ratings_model") for name in sec.tables)
    assert "rating_summary" in sec.tables


def test_the_exact_gradient_of_the_laplace_deviance_matches_finite_differences(
    ratings: pd.DataFrame,
) -> None:
    # Away from the optimum every term counts, the log det's included (dropping its
    # derivative moves the gradient by order 1, far beyond this tolerance).
    codes, X, _, _ = _design(ratings, "rating", "condition", ["c0", "c1"])
    pid, sid = pd.factorize(ratings["participant"])[0], pd.factorize(ratings["stimulus"])[0]
    prob = make_problem(codes, X, pid, sid)
    k = int(codes.max())
    laplace = _Laplace(prob, k)
    raw = np.concatenate([np.linspace(-2.0, 2.5, k), [0.3], [0.7, 0.4]])
    value, grad = laplace.gradient(raw)
    assert value == pytest.approx(laplace(raw), rel=1e-12)
    numeric = np.empty(len(raw))
    for i in range(len(raw)):
        step = np.zeros(len(raw))
        step[i] = 1e-5
        numeric[i] = (laplace(raw + step) - laplace(raw - step)) / 2e-5
    assert grad == pytest.approx(numeric, rel=1e-6, abs=1e-6)


def test_the_mode_predicted_from_the_last_gradient_is_first_order_accurate(
    ratings: pd.DataFrame,
) -> None:
    codes, X, _, _ = _design(ratings, "rating", "condition", ["c0", "c1"])
    pid, sid = pd.factorize(ratings["participant"])[0], pd.factorize(ratings["stimulus"])[0]
    laplace = _Laplace(make_problem(codes, X, pid, sid), int(codes.max()))
    raw = np.concatenate([np.linspace(-2.0, 2.5, laplace.n_cuts), [0.3], [0.7, 0.4]])
    laplace.gradient(raw)
    last = np.concatenate([laplace.up, laplace.us])
    moved = raw + 1e-4 * np.linspace(-1.0, 1.0, len(raw))
    predicted = np.concatenate(laplace._start(moved))
    laplace(moved)
    mode = np.concatenate([laplace.up, laplace.us])
    # Error O(step^2) against O(step) for the unmoved mode.
    assert np.abs(predicted - mode).max() < 1e-2 * np.abs(last - mode).max()
