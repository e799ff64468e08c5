"""Log-RT model and power simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis.lmm import fit_crossed_lmm
from analysis.power import PowerRuns, logodds_for_accuracies, power_curve, simulate_power
from analysis.rt import fit_log_rt_model, rt_summary
from analysis.simulate import marginal_accuracy, simulate_accuracy_trials


def test_log_rt_model_recovers_the_simulated_effect() -> None:
    data = simulate_accuracy_trials(
        np.random.default_rng(1),
        n_participants=120,
        n_trials=30,
        n_stimuli=40,
        intercept=0.0,
        effect=0.0,
        sd_participant=0.5,
        sd_stimulus=0.3,
        log_rt_effect=0.2,
    )
    fit = fit_log_rt_model(data, levels=["visual", "audible"])
    row = fit.coefficients.iloc[1]
    assert row["ci_low"] < 0.2 < row["ci_high"]
    assert row["ratio"] == pytest.approx(np.exp(row["estimate"]))
    assert fit.sd_participant == pytest.approx(0.3, abs=0.06)  # simulator: participant SD 0.3
    assert fit.sd_stimulus == pytest.approx(0.15, abs=0.06)  # stimulus SD 0.15
    assert fit.sd_residual == pytest.approx(0.4, abs=0.02)


def test_the_crossed_lmm_matches_statsmodels_variance_components() -> None:
    data = simulate_accuracy_trials(
        np.random.default_rng(2),
        n_participants=24,
        n_trials=12,
        n_stimuli=16,
        intercept=0.0,
        effect=0.0,
        sd_participant=0.5,
        sd_stimulus=0.3,
        log_rt_effect=0.1,
    )
    data["log_rt"] = np.log(data["rt_ms"])
    ours = fit_crossed_lmm(data, outcome="log_rt", levels=["visual", "audible"])
    # statsmodels fits crossed effects as variance components within one all-covering group.
    exog = sm.add_constant((data["condition"] == "audible").astype(float).to_numpy())
    vc = {"participant": "0 + C(participant)", "stimulus": "0 + C(stimulus)"}
    ref = sm.MixedLM.from_formula(
        "log_rt ~ C(condition, Treatment('visual'))",
        data.assign(g=1),
        groups="g",
        vc_formula=vc,
        re_formula="0",
    ).fit(reml=True)
    assert exog.shape[1] == 2
    assert ours.coefficients["estimate"].to_numpy() == pytest.approx(
        ref.fe_params.to_numpy(), abs=1e-4
    )
    assert ours.coefficients["se"].to_numpy() == pytest.approx(ref.bse_fe.to_numpy(), rel=1e-3)
    assert ours.sd_residual == pytest.approx(np.sqrt(ref.scale), rel=1e-3)


def test_rt_summary_reports_medians() -> None:
    data = pd.DataFrame({"condition": ["a", "a", "a", "b"], "rt_ms": [100.0, 200.0, 400.0, 50.0]})
    table = rt_summary(data).set_index("condition")
    assert table.loc["a", "median_ms"] == 200.0
    assert table.loc["a", "geometric_mean_ms"] == pytest.approx(200.0)


def test_the_solved_log_odds_give_the_requested_marginal_accuracies() -> None:
    a, b = logodds_for_accuracies(0.6, 0.1, 0.8, 0.5)
    sd = np.hypot(0.8, 0.5)
    assert marginal_accuracy(a, sd) == pytest.approx(0.6, abs=1e-9)
    assert marginal_accuracy(a + b, sd) == pytest.approx(0.7, abs=1e-9)
    # Independent check by Monte Carlo over the random effects.
    draws = np.random.default_rng(0).normal(0.0, sd, 400_000)
    assert np.mean(1 / (1 + np.exp(-(a + draws)))) == pytest.approx(0.6, abs=0.003)


def test_power_grows_with_participants_and_is_near_alpha_without_an_effect() -> None:
    curve = power_curve(
        [20, 120], n_trials=20, difference=0.12, runs=PowerRuns(n_sims=60, method="welch", seed=3)
    )
    assert curve["power"].iloc[1] > curve["power"].iloc[0]
    assert curve["power"].iloc[1] > 0.6
    null = simulate_power(
        n_participants=40, n_trials=20, difference=0.0, n_sims=100, method="welch", seed=9
    )
    assert null["power"] < 0.12
    assert null["seed"] == 9


def test_power_with_the_mixed_model_runs_and_records_its_inputs() -> None:
    result = simulate_power(
        n_participants=30, n_trials=16, difference=0.15, n_sims=8, method="glmm", seed=1
    )
    assert result["method"] == "glmm" and result["n_sims"] == 8 and result["n_failed"] == 0
    assert 0.0 <= result["ci_low"] <= result["power"] <= result["ci_high"] <= 1.0
