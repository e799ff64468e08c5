"""The crossed GLMM without R: parameter recovery, boundaries, contrasts, limits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis._errors import NotEnoughData
from analysis.glmm import fit_crossed_glmm, glmm_contrasts
from analysis.simulate import simulate_accuracy_trials


def _data(
    seed: int, n: int = 300, effect: float = 0.5, sd_p: float = 0.8, sd_s: float = 0.5
) -> pd.DataFrame:
    return simulate_accuracy_trials(
        np.random.default_rng(seed),
        n_participants=n,
        n_trials=30,
        n_stimuli=60,
        intercept=0.3,
        effect=effect,
        sd_participant=sd_p,
        sd_stimulus=sd_s,
    )


def test_it_recovers_the_simulated_effect_and_variance_components() -> None:
    fit = fit_crossed_glmm(_data(1), levels=["visual", "audible"])
    effect = fit.term("condition[audible]")
    assert abs(effect["estimate"] - 0.5) < 2.5 * effect["se"]
    assert fit.sd_participant == pytest.approx(0.8, abs=0.15)
    assert fit.sd_stimulus == pytest.approx(0.5, abs=0.15)
    assert effect["odds_ratio"] == pytest.approx(np.exp(effect["estimate"]))
    assert fit.converged


def test_without_random_variation_it_reduces_to_ordinary_logistic_regression() -> None:
    data = _data(2, sd_p=0.0, sd_s=0.0)
    fit = fit_crossed_glmm(data, levels=["visual", "audible"])
    X = sm.add_constant((data["condition"] == "audible").astype(float).to_numpy())
    glm = sm.Logit(data["answer_correct"].astype(float).to_numpy(), X).fit(disp=0)
    assert fit.sd_participant < 0.15 and fit.sd_stimulus < 0.15
    assert fit.coefficients["estimate"].to_numpy() == pytest.approx(glm.params, abs=0.02)
    assert fit.coefficients["se"].to_numpy() == pytest.approx(glm.bse, rel=0.1)


def test_row_order_does_not_change_the_fit() -> None:
    data = _data(3, n=80)
    a = fit_crossed_glmm(data, levels=["visual", "audible"])
    b = fit_crossed_glmm(data.sample(frac=1.0, random_state=0), levels=["visual", "audible"])
    assert a.coefficients["estimate"].to_numpy() == pytest.approx(
        b.coefficients["estimate"].to_numpy(), abs=1e-5
    )
    assert a.loglik == pytest.approx(b.loglik, abs=1e-6)


def test_contrasts_between_non_reference_levels_use_the_covariance() -> None:
    data = _data(4, n=150)
    third = data["participant"] % 3 == 0
    data.loc[third, "condition"] = "both"
    fit = fit_crossed_glmm(data, levels=["visual", "audible", "both"])
    table = glmm_contrasts(fit).set_index(["a", "b"])
    beta = fit.coefficients.set_index("term")["estimate"]
    assert table.loc[("audible", "both"), "log_or"] == pytest.approx(
        beta["condition[both]"] - beta["condition[audible]"]
    )
    vec = np.array([0.0, -1.0, 1.0])
    assert table.loc[("audible", "both"), "se"] == pytest.approx(np.sqrt(vec @ fit.cov @ vec))


def test_an_intercept_only_model_fits() -> None:
    fit = fit_crossed_glmm(_data(5, n=60), condition=None)
    assert list(fit.coefficients["term"]) == ["Intercept"]


@pytest.mark.parametrize("change", ["all_correct", "two_participants", "missing_level"])
def test_data_that_cannot_identify_the_model_is_not_enough_data(change: str) -> None:
    data = _data(6, n=20)
    if change == "all_correct":
        data["answer_correct"] = True
    elif change == "two_participants":
        data = data.loc[data["participant"] < 2]
    else:
        data["condition"] = "visual"
        data.loc[0, "condition"] = "audible"
        data = data.iloc[1:]
    with pytest.raises(NotEnoughData):
        fit_crossed_glmm(data, levels=["visual", "audible"])


def test_it_names_a_missing_column() -> None:
    with pytest.raises(ValueError, match="glmm data: missing column 'stimulus'"):
        fit_crossed_glmm(_data(7, n=20).drop(columns="stimulus"))


@pytest.mark.parametrize("q", [1, 3])
def test_the_sparse_and_dense_schur_updates_agree(monkeypatch: pytest.MonkeyPatch, q: int) -> None:
    from analysis import _crossed

    rng = np.random.default_rng(9)
    pid = np.repeat(np.arange(200), 15)
    sid = rng.integers(0, 50, len(pid))  # repeats of a stimulus within a participant included
    X = np.column_stack([np.ones(len(pid)), rng.random(len(pid))])
    Z = np.column_stack([np.ones(len(pid)), rng.integers(0, 2, (len(pid), q - 1))])
    prob = _crossed.make_problem(rng.random(len(pid)), X, pid, sid, Z)
    w = rng.random(len(pid))
    dp = _crossed.psum(prob, w) + 1.0
    lam = np.tril(rng.random((q, q)))
    blocks = []
    for threshold in (10**9, 0):
        monkeypatch.setattr(_crossed, "SPARSE_ABOVE", threshold)
        blocks.append(_crossed.dense_block(prob, w, dp, 0.7, prob.Z @ lam, True))
    assert blocks[0] == pytest.approx(blocks[1], abs=1e-10)
    # Against the definition: E - B' D^-1 B from the explicit trial-level design.
    n = len(pid)
    T = np.zeros((n, 50 * q))
    for k in range(q):
        T[np.arange(n), prob.cols[:, k]] = (prob.Z @ lam)[:, k]
    full = np.column_stack([prob.X, T])
    E = full.T @ (full * w[:, None]) + np.diag(np.r_[np.zeros(2), np.ones(50 * q)])
    P = np.zeros((n, 200))
    P[np.arange(n), prob.pid] = 0.7
    B = P.T @ (full * w[:, None])
    assert blocks[0] == pytest.approx(E - B.T @ (B / dp[:, None]), abs=1e-9)


def test_a_large_stimulus_pool_takes_the_sparse_path_and_still_fits() -> None:
    data = simulate_accuracy_trials(
        np.random.default_rng(10),
        n_participants=120,
        n_trials=20,
        n_stimuli=450,
        intercept=0.3,
        effect=0.5,
        sd_participant=0.8,
        sd_stimulus=0.5,
    )
    fit = fit_crossed_glmm(data, levels=["visual", "audible"])
    assert fit.n_stimuli > 400 and fit.converged
    assert (
        abs(fit.term("condition[audible]")["estimate"] - 0.5)
        < 3 * fit.term("condition[audible]")["se"]
    )


def test_starting_from_a_subsample_reaches_the_same_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from analysis import glmm

    data = _data(11, n=200)
    direct = fit_crossed_glmm(data, levels=["visual", "audible"])
    monkeypatch.setattr(glmm, "SUBSAMPLE_ABOVE", 100)
    via_subsample = fit_crossed_glmm(data, levels=["visual", "audible"])
    assert via_subsample.coefficients["estimate"].to_numpy() == pytest.approx(
        direct.coefficients["estimate"].to_numpy(), abs=1e-4
    )
    assert via_subsample.coefficients["se"].to_numpy() == pytest.approx(
        direct.coefficients["se"].to_numpy(), rel=1e-3
    )
    assert via_subsample.sd_stimulus == pytest.approx(direct.sd_stimulus, abs=1e-3)
