"""Marginal probabilities, adjusted contrasts and the likelihood-ratio test agree with
R (emmeans on an lme4::glmer fit, anova of nested glmer fits) within 2%.

emmeans refers glmer's Wald statistics to the normal (df = Inf); ours use the
between-within df of ``analysis._wald``. So emmeans is given our df (its
user-specified df): intervals, Holm and Tukey (studentized range) p-values are
then R's t-based computations on glmer's estimates and SEs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from analysis.glmm import fit_crossed_glmm
from analysis.io import main_trials
from analysis.marginal import (
    adjusted_contrasts,
    equivalence_test,
    likelihood_ratio_test,
    marginal_means,
)
from analysis.sections.moderation import interaction_fit
from analysis.simulate import SimulationSpec, simulate_study
from tests.analysis.test_glmm_lme4 import _rscript

pytestmark = pytest.mark.r

_LEVELS = ["visual", "audible", "both"]
_R_SCRIPT = r"""
suppressMessages({library(lme4); library(emmeans)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
d$condition <- factor(d$condition, levels = c("visual", "audible", "both"))
m <- glmer(y ~ condition + (1 | participant) + (1 | stimulus), data = d, family = binomial)
m0 <- glmer(y ~ 1 + (1 | participant) + (1 | stimulus), data = d, family = binomial)
df <- as.numeric(args[2:3])  # of the means, of the pairs
em <- as.data.frame(emmeans(m, ~ condition, type = "response", df = df[1]))
for (i in seq_len(nrow(em))) cat(sprintf("mean %.10f %.10f %.10f %.10f\n", em$prob[i], em$SE[i], em$lower.CL[i], em$upper.CL[i]))
for (adj in c("holm", "tukey")) {
  pr <- as.data.frame(pairs(emmeans(m, ~ condition, df = df[2]), adjust = adj))
  for (i in seq_len(nrow(pr))) cat(sprintf("pair %s %.10f %.10f %.12g\n", adj, pr$estimate[i], pr$SE[i], pr$p.value[i]))
}
a <- anova(m0, m)
cat(sprintf("lrt %.10f %d %.12g\n", a$Chisq[2], a$Df[2], a[["Pr(>Chisq)"]][2]))
"""


def _run_r(script: str, folder: Path, *args: str) -> str:
    """Run ``script`` on ``folder/d.csv`` (and ``args``); its standard output."""
    (folder / "fit.R").write_text(script)
    return subprocess.run(
        [_rscript(), str(folder / "fit.R"), str(folder / "d.csv"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object, dict[str, list]]:
    spec = SimulationSpec(
        n_participants=90,
        n_trials=30,
        n_stimuli=50,
        conditions=tuple(_LEVELS),
        effects=(0.0, -0.35, 0.3),
        dprime=(1.0,) * 3,
        criterion=(0.0,) * 3,
        log_rt_effects=(0.0,) * 3,
        with_events=False,
        seed=202,
    )
    data = main_trials(simulate_study(spec).trials)
    full = fit_crossed_glmm(data, levels=_LEVELS)
    reduced = fit_crossed_glmm(data, condition=None)
    folder = tmp_path_factory.mktemp("emmeans")
    data.assign(y=data["answer_correct"].astype(int))[
        ["y", "condition", "participant", "stimulus"]
    ].to_csv(folder / "d.csv", index=False)
    # emmeans takes one df per grid: here every mean has the intercept's df (the
    # smallest: 50 stimuli - 1) and every contrast the condition columns' df.
    df = [sorted(set(t["df"])) for t in (marginal_means(full), adjusted_contrasts(full))]
    assert [len(d) for d in df] == [1, 1] and df[0][0] == 49, df
    out = _run_r(_R_SCRIPT, folder, *(f"{d[0]:g}" for d in df))
    parsed: dict[str, list] = {"mean": [], "holm": [], "tukey": [], "lrt": []}
    for line in out.splitlines():
        kind, *values = line.split()
        if kind == "pair":
            parsed[values[0]].append([float(v) for v in values[1:]])
        else:
            parsed[kind].append([float(v) for v in values])
    return full, reduced, parsed


def test_marginal_probabilities_match_emmeans_within_two_percent(fitted) -> None:
    full, _, r = fitted
    ours = marginal_means(full)
    for row, (prob, se, low, high) in zip(ours.itertuples(), r["mean"], strict=True):
        assert row.probability == pytest.approx(prob, rel=0.02)
        assert row.se == pytest.approx(se, rel=0.02)
        assert row.ci_low == pytest.approx(low, rel=0.02)
        assert row.ci_high == pytest.approx(high, rel=0.02)


@pytest.mark.parametrize("adjust", ["holm", "tukey"])
def test_adjusted_contrasts_match_emmeans_pairs(fitted, adjust: str) -> None:
    full, _, r = fitted
    ours = adjusted_contrasts(full, adjust=adjust)
    assert list(zip(ours["a"], ours["b"], strict=True)) == [
        ("visual", "audible"),
        ("visual", "both"),
        ("audible", "both"),
    ]
    for row, (estimate, se, p) in zip(ours.itertuples(), r[adjust], strict=True):
        assert -row.log_or == pytest.approx(estimate, rel=0.02)  # emmeans gives a - b
        assert row.se == pytest.approx(se, rel=0.02)
        assert row.p_adjusted == pytest.approx(p, rel=0.02, abs=1e-4)
    assert (ours["adjustment"] == adjust).all()


def test_the_likelihood_ratio_test_matches_anova_of_glmer_fits(fitted) -> None:
    full, reduced, r = fitted
    ours = likelihood_ratio_test(full, reduced, what="condition").iloc[0]
    chi2, df, p = r["lrt"][0]
    assert ours["df"] == df == 2
    assert ours["chi2"] == pytest.approx(chi2, rel=0.02)
    assert ours["p_value"] == pytest.approx(p, rel=0.02)


def test_tost_equivalence_holds_exactly_when_the_90_percent_interval_is_inside() -> None:
    for estimate, se, bound in [(0.05, 0.1, 0.3), (0.2, 0.1, 0.3), (-0.25, 0.02, 0.3)]:
        tost = equivalence_test(estimate, se, bound)
        inside = -bound < tost["ci90_low"] and tost["ci90_high"] < bound
        assert (tost["p_value"] < 0.05) == inside
    # At estimate 0 both one-sided tests give P(Z > bound / se), or P(T_df > bound / se).
    assert equivalence_test(0.0, 0.1, np.log(1.5))["p_value"] == pytest.approx(
        stats.norm.sf(np.log(1.5) / 0.1), rel=1e-12
    )
    assert equivalence_test(0.0, 0.2, np.log(1.5), 12.0)["p_value"] == pytest.approx(
        stats.t.sf(np.log(1.5) / 0.2, 12), rel=1e-12
    )


_INTERACTION_SCRIPT = r"""
suppressMessages(library(lme4))
d <- read.csv(commandArgs(trailingOnly = TRUE)[1], stringsAsFactors = FALSE)
d$condition <- factor(d$condition, levels = c("visual", "audible"))
m1 <- glmer(y ~ condition + mc + (1 | participant) + (1 | stimulus), data = d, family = binomial)
m2 <- glmer(y ~ condition * mc + (1 | participant) + (1 | stimulus), data = d, family = binomial)
a <- anova(m1, m2)
cat(sprintf("%.10f %.12g %.10f %.10f\n", a$Chisq[2], a[["Pr(>Chisq)"]][2], fixef(m2)[4], sqrt(diag(vcov(m2)))[4]))
"""


def test_the_condition_by_model_correct_interaction_matches_glmer(tmp_path: Path) -> None:
    spec = SimulationSpec(
        n_participants=80,
        n_trials=30,
        n_stimuli=50,
        wrong_shift=-0.6,
        with_events=False,
        seed=77,
    )
    data = main_trials(simulate_study(spec).trials)
    data = data.loc[data["task"] == "forward"].reset_index(drop=True)
    base, full = interaction_fit(data, ["visual", "audible"], "model_correct", ())
    ours = likelihood_ratio_test(full, base, what="x").iloc[0]
    data.assign(y=data["answer_correct"].astype(int), mc=data["model_correct"].astype(int))[
        ["y", "mc", "condition", "participant", "stimulus"]
    ].to_csv(tmp_path / "d.csv", index=False)
    out = _run_r(_INTERACTION_SCRIPT, tmp_path)
    chi2, p, estimate, se = (float(v) for v in out.split())
    term = full.term("condition[audible]:model_correct")
    assert term["estimate"] == pytest.approx(estimate, rel=0.02)
    assert term["se"] == pytest.approx(se, rel=0.02)
    assert ours["chi2"] == pytest.approx(chi2, rel=0.02)
    assert ours["p_value"] == pytest.approx(p, rel=0.02)
