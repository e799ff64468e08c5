"""Hierarchical probit signal detection agrees with glmer(binomial(link = "probit"))."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.sdt import fit_sdt, sdt_columns
from analysis.simulate import simulate_verification_trials
from tests.analysis.test_glmm_lme4 import run_r

pytestmark = pytest.mark.r

_R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$condition <- factor(d$condition, levels = strsplit(args[2], ",")[[1]])
m <- glmer(y ~ condition * signal + (1 | participant) + (1 | stimulus), data = d,
           family = binomial(link = "probit"))
se <- sqrt(diag(vcov(m)))
for (i in seq_along(fixef(m))) cat(sprintf("beta %.10f %.10f\n", fixef(m)[i], se[i]))
vc <- as.data.frame(VarCorr(m))
for (g in c("participant", "stimulus")) cat(sprintf("sd %.10f\n", vc$sdcor[vc$grp == g]))
cat(sprintf("loglik %.6f\n", as.numeric(logLik(m))))
"""


@pytest.mark.parametrize(
    ("seed", "dprime", "criterion"),
    [(31, [1.0, 1.5], [0.0, 0.2]), (32, [1.2, 1.2, 0.7], [0.1, -0.2, 0.0])],
)
def test_dprime_and_criterion_match_glmer_probit_within_two_percent(
    seed: int, dprime: list[float], criterion: list[float], tmp_path: Path
) -> None:
    trials = simulate_verification_trials(np.random.default_rng(seed), dprime, criterion)
    levels = [f"c{k}" for k in range(len(dprime))]
    ours = fit_sdt(trials, levels=levels)
    data = sdt_columns(trials)
    csv_file, script = tmp_path / "sdt.csv", tmp_path / "sdt.R"
    data.assign(y=data["says_yes"].astype(int)).to_csv(csv_file, index=False)
    out = run_r(script, _R_SCRIPT, str(csv_file), ",".join(levels)).splitlines()
    rows = [line.split() for line in out]
    betas = [(float(r[1]), float(r[2])) for r in rows if r[0] == "beta"]
    sds = [float(r[1]) for r in rows if r[0] == "sd"]
    # R orders Intercept, condition dummies, signal, interactions: the same as ours.
    table = ours.fit.coefficients
    for i, (beta, se) in enumerate(betas):
        assert table["estimate"].iloc[i] == pytest.approx(beta, rel=0.02, abs=0.002)
        assert table["se"].iloc[i] == pytest.approx(se, rel=0.02)
    assert [ours.fit.sd_participant, ours.fit.sd_stimulus] == pytest.approx(sds, rel=0.05)
    assert ours.fit.loglik == pytest.approx(float(rows[-1][1]), abs=0.05)
    # d' of the reference is the signal coefficient; the difference test is the interaction's.
    k = len(levels)
    assert ours.by_condition["dprime"].iloc[0] == pytest.approx(betas[k][0], rel=0.02)
    first = ours.differences.iloc[0]
    assert first["dprime_difference"] == pytest.approx(betas[k + 1][0], rel=0.02)
    assert first["se"] == pytest.approx(betas[k + 1][1], rel=0.02)
