"""The crossed models agree with R's lme4 (glmer with the Laplace approximation, lmer by REML)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.glmm import fit_crossed_glmm
from analysis.io import main_trials
from analysis.rt import fit_log_rt_model
from analysis.simulate import SimulationSpec, simulate_accuracy_trials, simulate_study

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
# glmer's own Wald z test, and R's t distribution on our statistics and df.
co <- coef(summary(m))
for (i in seq_len(nrow(co))) cat(sprintf("wald_z %d %.10f %.12g\n", i, co[i, "z value"], co[i, "Pr(>|z|)"]))
t <- as.numeric(strsplit(args[3], ",")[[1]])
df <- as.numeric(strsplit(args[4], ",")[[1]])
for (i in seq_along(t)) cat(sprintf("pt %d %.12g %.12g\n", i, 2 * pt(-abs(t[i]), df[i]), qt(0.975, df[i])))
"""


def _rscript() -> str:
    found = shutil.which("Rscript")
    if found is None:
        if os.environ.get("HEARXAI_REQUIRE_SERVICES") == "1":
            pytest.fail("Rscript is not installed (apt-get install r-base-core r-cran-lme4)")
        pytest.skip("Rscript is not installed")
    return found


def run_r(script: Path, text: str, *args: str) -> str:
    """Write ``text`` to ``script``, run it with Rscript and ``args``, return stdout."""
    script.write_text(text)
    return subprocess.run(
        [_rscript(), str(script), *args], capture_output=True, text=True, timeout=300, check=True
    ).stdout


def _glmer(
    data: pd.DataFrame, levels: list[str], tmp_path: Path, table: pd.DataFrame
) -> dict[str, object]:
    """lme4's fit of ``data``, and R's t p-values and quantiles for ``table``'s t and df."""
    csv_file, script = tmp_path / "data.csv", tmp_path / "fit.R"
    data.assign(y=data["answer_correct"].astype(int))[
        ["y", "condition", "participant", "stimulus"]
    ].to_csv(csv_file, index=False)
    numbers = [",".join(f"{v:.15g}" for v in table[c]) for c in ("t", "df")]
    out = run_r(script, _R_SCRIPT, str(csv_file), ",".join(levels), *numbers)
    parsed: dict[str, object] = {"beta": [], "se": [], "wald_z": [], "pt": []}
    for line in out.splitlines():
        parts = line.split()
        if parts[0] == "beta":
            parsed["beta"].append(float(parts[2]))  # type: ignore[union-attr]
            parsed["se"].append(float(parts[3]))  # type: ignore[union-attr]
        elif parts[0] in ("wald_z", "pt"):
            parsed[parts[0]].append((float(parts[2]), float(parts[3])))  # type: ignore[union-attr]
        elif parts[0] == "sd":
            parsed[f"sd_{parts[1]}"] = float(parts[2])
        elif parts[0] == "loglik":
            parsed["loglik"] = float(parts[1])
    return parsed


@pytest.mark.parametrize(
    ("seed", "conditions", "effects"),
    [
        (101, ("visual", "audible"), (0.0, 0.5)),
        (202, ("visual", "audible", "both"), (0.0, -0.4, 0.3)),
    ],
)
def test_estimates_and_standard_errors_match_lme4_within_five_percent(
    seed: int, conditions: tuple[str, ...], effects: tuple[float, ...], tmp_path: Path
) -> None:
    k = len(conditions)
    spec = SimulationSpec(
        n_participants=90,
        n_trials=30,
        n_stimuli=50,
        conditions=conditions,
        effects=effects,
        dprime=(1.0,) * k,
        criterion=(0.0,) * k,
        log_rt_effects=(0.0,) * k,
        sd_participant=0.9,
        sd_stimulus=0.6,
        with_events=False,
        seed=seed,
    )
    data = main_trials(simulate_study(spec).trials)
    ours = fit_crossed_glmm(data, levels=list(conditions))
    table = ours.coefficients
    theirs = _glmer(data, list(conditions), tmp_path, table)
    for i, (beta_r, se_r) in enumerate(zip(theirs["beta"], theirs["se"], strict=True)):  # type: ignore[arg-type]
        assert table["estimate"].iloc[i] == pytest.approx(beta_r, rel=0.05, abs=0.02 * se_r)
        assert table["se"].iloc[i] == pytest.approx(se_r, rel=0.05)
    _check_wald(table, theirs)
    assert ours.sd_participant == pytest.approx(theirs["sd_participant"], rel=0.05)
    assert ours.sd_stimulus == pytest.approx(theirs["sd_stimulus"], rel=0.05)
    assert ours.loglik == pytest.approx(theirs["loglik"], abs=0.05)
    assert ours.converged


def _check_wald(table: pd.DataFrame, theirs: dict[str, object]) -> None:
    """Our statistic is glmer's Wald z (and its normal p-value is glmer's); our p-values
    and intervals are R's t distribution on our between-within df."""
    for row, (z_r, p_r), (p_t, q_t) in zip(
        table.itertuples(),
        theirs["wald_z"],  # type: ignore[arg-type]
        theirs["pt"],  # type: ignore[arg-type]
        strict=True,
    ):
        assert row.t == pytest.approx(z_r, rel=0.05, abs=0.05)
        assert 2 * stats.norm.sf(abs(row.t)) == pytest.approx(p_r, rel=0.15, abs=1e-3)
        assert row.p_value == pytest.approx(p_t, rel=1e-6, abs=1e-12)
        assert row.ci_high - row.estimate == pytest.approx(q_t * row.se, rel=1e-6)


_LMER_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
d$condition <- factor(d$condition, levels = c("visual", "audible"))
m <- lmer(log(rt_ms) ~ condition + (1 | participant) + (1 | stimulus), data = d, REML = TRUE)
se <- sqrt(diag(vcov(m)))
vc <- as.data.frame(VarCorr(m))
for (i in seq_along(fixef(m))) cat(sprintf("beta %d %.10f %.10f\n", i, fixef(m)[i], se[i]))
for (g in c("participant", "stimulus", "Residual")) cat(sprintf("sd %s %.10f\n", g, vc$sdcor[vc$grp == g]))
cat(sprintf("reml %.6f\n", REMLcrit(m)))
co <- coef(summary(m))
t <- as.numeric(strsplit(args[2], ",")[[1]])
df <- as.numeric(strsplit(args[3], ",")[[1]])
for (i in seq_len(nrow(co))) cat(sprintf("t %d %.10f %.12g\n", i, co[i, "t value"], 2 * pt(-abs(t[i]), df[i])))
"""


def test_the_log_rt_model_matches_lmer(tmp_path: Path) -> None:
    rng = np.random.default_rng(303)
    data = simulate_accuracy_trials(
        rng,
        n_participants=80,
        n_trials=25,
        n_stimuli=40,
        intercept=0.0,
        effect=0.0,
        sd_participant=0.5,
        sd_stimulus=0.3,
        log_rt_effect=0.15,
    )
    fit = fit_log_rt_model(data, levels=["visual", "audible"])
    csv_file, script = tmp_path / "rt.csv", tmp_path / "lmer.R"
    data[["rt_ms", "condition", "participant", "stimulus"]].to_csv(csv_file, index=False)
    numbers = [",".join(f"{v:.15g}" for v in fit.coefficients[c]) for c in ("t", "df")]
    out = run_r(script, _LMER_SCRIPT, str(csv_file), *numbers)
    rows = [line.split() for line in out.splitlines()]
    betas = [(float(r[2]), float(r[3])) for r in rows if r[0] == "beta"]
    sds = {r[1]: float(r[2]) for r in rows if r[0] == "sd"}
    table = fit.coefficients
    for i, (beta_r, se_r) in enumerate(betas):
        assert table["estimate"].iloc[i] == pytest.approx(beta_r, abs=1e-4)
        assert table["se"].iloc[i] == pytest.approx(se_r, rel=1e-3)
    assert fit.sd_participant == pytest.approx(sds["participant"], rel=1e-3)
    assert fit.sd_stimulus == pytest.approx(sds["stimulus"], rel=1e-3)
    assert fit.sd_residual == pytest.approx(sds["Residual"], rel=1e-3)
    # lmer's t value; the p-value is R's t distribution on our between-within df
    # (80 participants between two conditions: 78 for the condition effect).
    tests = [(float(r[2]), float(r[3])) for r in rows if r[0] == "t"]
    for row, (t_r, p_r) in zip(table.itertuples(), tests, strict=True):
        assert row.t == pytest.approx(t_r, rel=1e-3)
        assert row.p_value == pytest.approx(p_r, rel=1e-6, abs=1e-12)
    assert table["df"].iloc[1] == 78
