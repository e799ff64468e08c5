"""The faithfulness covariate model agrees with R: the covariate standardised across the
stimuli in R itself, ``lme4::glmer`` with and without it, and ``anova`` of the two."""

from __future__ import annotations

import pytest

from analysis.faithfulness import faithfulness_fit, faithfulness_table
from analysis.io import main_trials
from analysis.simulate import SimulationSpec, simulate_study
from tests.analysis.test_marginal_r import _run_r

pytestmark = pytest.mark.r

_LEVELS = ["visual", "audible"]
_R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
d$condition <- factor(d$condition, levels = c("visual", "audible"))
once <- d[!duplicated(d$stimulus), ]
d$f <- if (args[2] == "z") (d$raw - mean(once$raw)) / sd(once$raw) else d$raw
m <- glmer(y ~ condition + f + (1 | participant) + (1 | stimulus), data = d, family = binomial)
m0 <- glmer(y ~ condition + (1 | participant) + (1 | stimulus), data = d, family = binomial)
se <- sqrt(diag(vcov(m)))
cat(sprintf("f %.10f %.10f\n", fixef(m)[["f"]], se[["f"]]))
a <- anova(m0, m)
cat(sprintf("lrt %.10f %.12g\n", a$Chisq[2], a[["Pr(>Chisq)"]][2]))
"""


@pytest.mark.parametrize(
    ("column", "coding"), [("faith_deletion_aopc", "z"), ("faith_decision_kept", "raw")]
)
def test_the_faithfulness_covariate_estimate_matches_lme4_glmer(
    tmp_path: pytest.TempPathFactory, column: str, coding: str
) -> None:
    spec = SimulationSpec(
        n_participants=80,
        n_trials=24,
        n_stimuli=48,
        faithfulness=True,
        aopc_effect=0.5,
        kept_effect=0.6,
        with_events=False,
        seed=31,
    )
    data = main_trials(simulate_study(spec).trials)
    fit = faithfulness_fit(data, column=column, levels=_LEVELS)
    row = faithfulness_table([fit]).iloc[0]
    fit.data.assign(y=fit.data["answer_correct"].astype(int), raw=fit.data[column].astype(float))[
        ["y", "condition", "participant", "stimulus", "raw"]
    ].to_csv(tmp_path / "d.csv", index=False)
    out = _run_r(_R_SCRIPT.replace("args[2]", f'"{coding}"'), tmp_path)
    parsed = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in out.splitlines()}
    (r_estimate, r_se), (r_chi2, r_p) = parsed["f"], parsed["lrt"]
    assert row["estimate"] == pytest.approx(r_estimate, rel=0.02, abs=0.005)
    assert row["se"] == pytest.approx(r_se, rel=0.02)
    assert row["chi2"] == pytest.approx(r_chi2, rel=0.02, abs=0.05)
    assert row["lrt_p_value"] == pytest.approx(r_p, rel=0.05, abs=1e-4)
