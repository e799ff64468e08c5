"""Random slopes of condition by stimulus agree with lme4::glmer, and the maximal
structure is simplified (Bates et al. 2015) only when the data call for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.glmm import fit_crossed_glmm
from analysis.simulate import simulate_slope_trials
from analysis.slopes import fit_maximal, random_effects_table
from tests.analysis.test_glmm_lme4 import run_r

pytestmark = pytest.mark.r

# Numeric dummies so that || (no correlations) means the same in R as here.
_R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
q <- as.integer(args[2])
dummies <- paste0("d", seq_len(q - 1))
for (k in seq_len(q - 1)) d[[dummies[k]]] <- as.numeric(d$condition == paste0("c", k))
fixed <- paste(dummies, collapse = " + ")
bar <- if (args[3] == "correlated") "|" else "||"
f <- as.formula(sprintf("y ~ %s + (1 | participant) + (1 + %s %s stimulus)", fixed, fixed, bar))
m <- glmer(f, data = d, family = binomial)
se <- sqrt(diag(vcov(m)))
for (i in seq_along(fixef(m))) cat(sprintf("beta %.10f %.10f\n", fixef(m)[i], se[i]))
vc <- as.data.frame(VarCorr(m))
for (i in seq_len(nrow(vc))) cat(sprintf("vc %s %s %s %.10f\n", vc$grp[i], vc$var1[i], vc$var2[i], vc$sdcor[i]))
cat(sprintf("loglik %.6f\n", as.numeric(logLik(m))))
"""

_FACTOR_2 = np.array([[0.6, 0.0], [0.25, 0.5]])
_FACTOR_3 = np.array([[0.6, 0.0, 0.0], [0.3, 0.5, 0.0], [0.1, 0.2, 0.4]])


def _glmer(data: pd.DataFrame, q: int, structure: str, tmp_path: Path) -> dict[str, list]:
    csv_file, script = tmp_path / "data.csv", tmp_path / "fit.R"
    data.assign(y=data["answer_correct"].astype(int)).to_csv(csv_file, index=False)
    out = run_r(script, _R_SCRIPT, str(csv_file), str(q), structure)
    parsed: dict[str, list] = {"beta": [], "vc": [], "loglik": []}
    for line in out.splitlines():
        kind, *rest = line.split()
        parsed[kind].append(rest)
    return parsed


@pytest.mark.parametrize(
    ("seed", "factor", "within", "structure"),
    [
        (11, _FACTOR_2, False, "correlated"),
        (12, _FACTOR_3, True, "correlated"),
        (13, _FACTOR_3, True, "uncorrelated"),
    ],
)
def test_slope_models_match_glmer_within_two_percent(
    seed: int, factor: np.ndarray, within: bool, structure: str, tmp_path: Path
) -> None:
    q = len(factor)
    data = simulate_slope_trials(
        np.random.default_rng(seed),
        n_participants=90,
        n_trials=40,
        n_stimuli=40,
        effects=[0.3, 0.5, 0.9][:q],
        stimulus_factor=factor if structure == "correlated" else np.diag(np.diag(factor)),
        within=within,
    )
    levels = [f"c{k}" for k in range(q)]
    ours = fit_crossed_glmm(
        data,
        levels=levels,
        stimulus_slopes="condition",
        correlated=structure == "correlated",
    )
    theirs = _glmer(data, q, structure, tmp_path)
    for i, (beta, se) in enumerate(theirs["beta"]):
        assert ours.coefficients["estimate"].iloc[i] == pytest.approx(float(beta), rel=0.02)
        assert ours.coefficients["se"].iloc[i] == pytest.approx(float(se), rel=0.02)
    # R names the terms (Intercept), d1, d2 and, with ||, the groups stimulus, stimulus.1, ...
    sd_r = {
        (g.split(".")[0], "Intercept" if v == "(Intercept)" else f"condition[c{v[1:]}]"): float(sd)
        for g, v, other, sd in theirs["vc"]
        if other == "NA"
    }
    ours_sd = {(r.group, r.term): r.sd for r in random_effects_table(ours).itertuples()}
    assert ours_sd.keys() == sd_r.keys()
    for key, sd in sd_r.items():
        assert ours_sd[key] == pytest.approx(sd, rel=0.05), key
    if structure == "correlated":
        corr_r = sorted(float(r[3]) for r in theirs["vc"] if r[2] != "NA")
        c = ours.stimulus_correlation
        assert sorted(c[np.tril_indices(q, -1)]) == pytest.approx(corr_r, abs=0.05)
    assert ours.loglik == pytest.approx(float(theirs["loglik"][0][0]), abs=0.05)
    assert ours.converged and not ours.singular_terms


def _two_conditions(seed: int, n: int, factor: list[list[float]]) -> pd.DataFrame:
    """n participants x n trials on n stimuli, between participants."""
    return simulate_slope_trials(
        np.random.default_rng(seed),
        n_participants=n,
        n_trials=n,
        n_stimuli=n,
        effects=[0.3, 0.4],
        stimulus_factor=np.array(factor),
    )


def test_the_maximal_model_is_kept_when_the_slopes_vary() -> None:
    data = _two_conditions(21, 60, [[0.6, 0.0], [0.4, 0.8]])
    choice = fit_maximal(data, levels=["c0", "c1"])
    assert choice.structure == "correlated"
    assert choice.random_part == "(1 | participant) + (1 + condition | stimulus)"


def test_slopes_without_variance_are_removed_with_the_reason_logged() -> None:
    # No slope variance; in this draw lme4's isSingular is TRUE for both the correlated
    # and the || model as well (a draw's estimate is often above 0: not every seed is).
    data = _two_conditions(23, 40, [[0.5, 0.0], [0.0, 0.0]])
    choice = fit_maximal(data, levels=["c0", "c1"])
    assert choice.structure == "intercepts"
    assert "singular fit" in choice.log[0] and "Bates" in choice.log[0]
    assert choice.fit.structure.q == 1


def test_slopes_are_not_fitted_when_each_stimulus_has_one_condition() -> None:
    data = _two_conditions(23, 30, [[0.5, 0.0], [0.0, 0.3]])
    # Stimuli 0-14 only in c0, 15-29 only in c1.
    data["stimulus"] = data["stimulus"] % 15 + 15 * (data["condition"] == "c1")
    choice = fit_maximal(data, levels=["c0", "c1"])
    assert choice.structure == "intercepts"
    assert "not identifiable" in choice.log[0] and "within 0 stimuli" in choice.log[0]
