"""The crossed GLMM agrees with R's lme4::glmer (Laplace) on simulated data."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from analysis.glmm import fit_crossed_glmm
from analysis.io import main_trials
from analysis.simulate import SimulationSpec, simulate_study

pytestmark = pytest.mark.r

_R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
d$condition <- factor(d$condition, levels = strsplit(args[2], ",")[[1]])
m <- glmer(y ~ condition + (1 | participant) + (1 | stimulus), data = d, family = binomial)
se <- sqrt(diag(vcov(m)))
vc <- as.data.frame(VarCorr(m))
for (i in seq_along(fixef(m))) cat(sprintf("beta %d %.10f %.10f\n", i, fixef(m)[i], se[i]))
for (g in c("participant", "stimulus")) cat(sprintf("sd %s %.10f\n", g, vc$sdcor[vc$grp == g]))
cat(sprintf("loglik %.6f\n", as.numeric(logLik(m))))
"""


def _rscript() -> str:
    found = shutil.which("Rscript")
    if found is None:
        if os.environ.get("HEARXAI_REQUIRE_SERVICES") == "1":
            pytest.fail("Rscript is not installed (apt-get install r-base-core r-cran-lme4)")
        pytest.skip("Rscript is not installed")
    return found


def _glmer(data: pd.DataFrame, levels: list[str], tmp_path: Path) -> dict[str, object]:
    csv_file, script = tmp_path / "data.csv", tmp_path / "fit.R"
    data.assign(y=data["answer_correct"].astype(int))[["y", "condition", "participant", "stimulus"]].to_csv(
        csv_file, index=False)
    script.write_text(_R_SCRIPT)
    out = subprocess.run([_rscript(), str(script), str(csv_file), ",".join(levels)],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    parsed: dict[str, object] = {"beta": [], "se": []}
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "beta":
            parsed["beta"].append(float(parts[2]))  # type: ignore[union-attr]
            parsed["se"].append(float(parts[3]))  # type: ignore[union-attr]
        elif parts[0] == "sd":
            parsed[f"sd_{parts[1]}"] = float(parts[2])
        elif parts[0] == "loglik":
            parsed["loglik"] = float(parts[1])
    return parsed


@pytest.mark.parametrize(("seed", "conditions", "effects"), [
    (101, ("visual", "audible"), (0.0, 0.5)),
    (202, ("visual", "audible", "both"), (0.0, -0.4, 0.3)),
])
def test_estimates_and_standard_errors_match_lme4_within_five_percent(
        seed: int, conditions: tuple[str, ...], effects: tuple[float, ...], tmp_path: Path) -> None:
    k = len(conditions)
    spec = SimulationSpec(n_participants=90, n_trials=30, n_stimuli=50, conditions=conditions,
                          effects=effects, dprime=(1.0,) * k, criterion=(0.0,) * k,
                          log_rt_effects=(0.0,) * k, sd_participant=0.9, sd_stimulus=0.6,
                          with_events=False, seed=seed)
    data = main_trials(simulate_study(spec).trials)
    ours = fit_crossed_glmm(data, levels=list(conditions))
    theirs = _glmer(data, list(conditions), tmp_path)
    table = ours.coefficients
    for i, (beta_r, se_r) in enumerate(zip(theirs["beta"], theirs["se"], strict=True)):  # type: ignore[arg-type]
        assert table["estimate"].iloc[i] == pytest.approx(beta_r, rel=0.05, abs=0.02 * se_r)
        assert table["se"].iloc[i] == pytest.approx(se_r, rel=0.05)
    assert ours.sd_participant == pytest.approx(theirs["sd_participant"], rel=0.05)
    assert ours.sd_stimulus == pytest.approx(theirs["sd_stimulus"], rel=0.05)
    assert ours.loglik == pytest.approx(theirs["loglik"], abs=0.05)
    assert ours.converged
