"""The cumulative-logit mixed model agrees with R's ordinal::clmm (Laplace)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.ordinal import fit_ordinal_mixed
from analysis.simulate import simulate_rating_trials
from tests.analysis.test_glmm_lme4 import run_r

pytestmark = pytest.mark.r

_R_SCRIPT = r"""
suppressMessages(library(ordinal))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$rating <- factor(d$rating, ordered = TRUE)  # observed categories only, as ours
d$condition <- factor(d$condition, levels = strsplit(args[2], ",")[[1]])
d$participant <- factor(d$participant)
d$stimulus <- factor(d$stimulus)
m <- clmm(rating ~ condition + (1 | participant) + (1 | stimulus), data = d)
se <- sqrt(diag(vcov(m)))
for (i in seq_along(m$alpha)) cat(sprintf("alpha %.10f %.10f\n", m$alpha[i], se[i]))
k <- length(m$alpha)
for (i in seq_along(m$beta)) cat(sprintf("beta %.10f %.10f\n", m$beta[i], se[k + i]))
for (g in c("participant", "stimulus")) cat(sprintf("sd %.10f\n", attr(VarCorr(m)[[g]], "stddev")))
cat(sprintf("loglik %.6f\n", as.numeric(logLik(m))))
"""


def _clmm(data, levels: list[str], tmp_path: Path) -> dict[str, list[tuple[float, ...]]]:
    csv_file = tmp_path / "ratings.csv"
    data.to_csv(csv_file, index=False)
    out = run_r(tmp_path / "clmm.R", _R_SCRIPT, str(csv_file), ",".join(levels))
    rows: dict[str, list[tuple[float, ...]]] = {}
    for line in out.splitlines():
        key, *values = line.split()
        rows.setdefault(key, []).append(tuple(map(float, values)))
    return rows


def test_estimates_and_standard_errors_match_clmm_within_two_percent(tmp_path: Path) -> None:
    effects = [0.0, 0.5, -0.4]
    data = simulate_rating_trials(
        np.random.default_rng(42), effects, n_participants=30, n_trials=16, n_stimuli=20
    )
    # Nobody used 3 (merging two categories keeps a cumulative-logit model): the
    # thresholds run 1|2, 2|4, 4|5, ... in both fits.
    data["rating"] = data["rating"].replace(3.0, 2.0)
    levels = [f"c{k}" for k in range(len(effects))]
    ours = fit_ordinal_mixed(data, levels=levels)
    r = _clmm(data, levels, tmp_path)
    assert ours.unused == (3.0,)
    assert len(ours.thresholds) == len(r["alpha"])
    for table, key in ((ours.thresholds, "alpha"), (ours.coefficients, "beta")):
        for i, (estimate, se) in enumerate(r[key]):
            assert table["estimate"].iloc[i] == pytest.approx(estimate, rel=0.02, abs=0.002)
            assert table["se"].iloc[i] == pytest.approx(se, rel=0.02)
    sds = [s for (s,) in r["sd"]]
    assert list(ours.random_effects["sd"]) == pytest.approx(sds, rel=0.02, abs=0.002)
    assert ours.loglik == pytest.approx(r["loglik"][0][0], abs=0.01)
    assert ours.warnings == ()
