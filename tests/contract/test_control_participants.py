"""Positive and negative controls: bundle -> study -> simulated participants -> export -> report.

The same study runs twice. When the bots read the explanation (which they can only do in
the condition that shows one), the report must find an explanation effect; when every bot
answers the digit it hears, it must find none. "Finds" and "finds none" are read off the
report's own 95% confidence intervals, as a researcher would read them.

The bots wait out each trial's audio by moving the server's clock on rather than sleeping
(``bots_listen_on_the_server_clock``): the server sees the same listening times, and 2 x 16
bots x 12 trials no longer take minutes of real time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from studyapp.models import Participant, Study
from studyapp.services.bundles import bundle_import
from studyapp.services.studies import study_create
from tests.synthetic_bundle import write_synthetic_bundle

REPO = Path(__file__).resolve().parents[2]
N_BOTS = 16
N_TRIALS = 12


@pytest.fixture(scope="module")
def cue_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cued model: half the main clips carry a cue of another class, which it follows."""
    return write_synthetic_bundle(
        tmp_path_factory.mktemp("controls") / "b", n=60, share_wrong=0.0, share_cue=0.5
    )


def _run_control(strategy: str, bundle_dir: Path, work: Path) -> dict[str, Any]:
    """One pass of the pipeline; returns the report's summary (report.json)."""
    bundle = bundle_import(bundle_dir=bundle_dir)
    slug = f"control-{strategy}"
    study_create(
        slug=slug,
        title=f"Control: {strategy}",
        bundle=bundle,
        status=Study.Status.LIVE,
        modalities=["visual", "none"],
        n_trials=N_TRIALS,
        share_incorrect=0.5,
        consent_text="Consent.",
    )
    call_command("simulate_participants", study=slug, n=N_BOTS, strategy=strategy, seed=5)
    assert Participant.objects.filter(study__slug=slug, status="completed").count() == N_BOTS
    export = work / f"export-{strategy}"
    call_command("export_responses", study=slug, out=str(export))
    report = work / f"report-{strategy}"
    result = subprocess.run(
        [sys.executable, "-m", "analysis", "report", str(export), "--out", str(report)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((report / "report.json").read_text(encoding="utf-8"))


def _visual_minus_none(summary: dict[str, Any]) -> tuple[float, float, float]:
    """Difference in per-participant accuracy, visual minus none, with its 95% CI (Welch)."""
    (row,) = summary["participant_level_tests"]
    sign = 1.0 if (row["a"], row["b"]) == ("none", "visual") else -1.0
    assert {row["a"], row["b"]} == {"none", "visual"}
    low, high = sorted((sign * row["diff_ci_low"], sign * row["diff_ci_high"]))
    return sign * row["difference"], low, high


def _glmm_excludes_zero(summary: dict[str, Any]) -> bool:
    """Whether the crossed GLMM's 95% CI of the condition contrast (log odds) excludes 0."""
    (row,) = summary["glmm_contrasts"]
    return not row["ci_low"] <= 0 <= row["ci_high"]


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.usefixtures("seeded_enrolment", "bots_listen_on_the_server_clock")
def test_the_report_finds_an_explanation_effect_only_when_bots_use_the_explanation(
    cue_bundle_dir: Path, media_root: Path, tmp_path: Path
) -> None:
    positive = _run_control("explanation", cue_bundle_dir, tmp_path)
    negative = _run_control("heard", cue_bundle_dir, tmp_path)
    difference, low, high = _visual_minus_none(positive)
    assert low > 0, f"explanation bots: visual - none = {difference:.3f} [{low:.3f}, {high:.3f}]"
    assert _glmm_excludes_zero(positive), positive["glmm_contrasts"]
    difference, low, high = _visual_minus_none(negative)
    assert low <= 0 <= high, f"heard bots: visual - none = {difference:.3f} [{low:.3f}, {high:.3f}]"
    assert not _glmm_excludes_zero(negative), negative["glmm_contrasts"]
