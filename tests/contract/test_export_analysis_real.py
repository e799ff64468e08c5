"""The real exporter's output (Django, bots through the real pages) reads and reports cleanly.

The bots wait out each trial's audio by moving the server's clock on rather than sleeping
(``bots_listen_on_the_server_clock``): the server sees the same listening times.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest
from django.core.management import call_command

from analysis.exclusions import ExclusionConfig
from analysis.io import load_export
from analysis.report import build_report
from contracts import export_format as ef
from studyapp.models import Study
from studyapp.services.bundles import bundle_import
from studyapp.services.studies import study_create
from tests.synthetic_bundle import write_synthetic_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def real_export(media_root: Path, tmp_path: Path) -> Path:
    bundle = bundle_import(bundle_dir=write_synthetic_bundle(tmp_path / "bundle"))
    study = study_create(
        slug="contract-study",
        title="Contract study",
        bundle=bundle,
        status=Study.Status.LIVE,
        n_trials=6,
        consent_text="Consent text.",
        completion_code="DONE123",
    )
    call_command("simulate_participants", study=study.slug, n=8, accuracy=0.7)
    out = tmp_path / "export"
    call_command("export_responses", study=study.slug, out=str(out))
    return out


@pytest.mark.usefixtures("bots_listen_on_the_server_clock")  # before ``real_export`` runs the bots
def test_the_analysis_reads_what_the_real_exporter_writes(
    real_export: Path, tmp_path: Path
) -> None:
    export = load_export(real_export, events=True)
    assert export.study == "contract-study"
    assert export.trials["answer_correct"].dtype == bool
    assert len(export.participants) == 8
    report = build_report(
        real_export,
        tmp_path / "report",
        progress=False,
        config=ExclusionConfig(require_screening_pass=False),
    )
    summary = json.loads((report / "report.json").read_text())
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with (real_export / ef.TRIALS_FILE).open(newline="") as handle:
        for row in csv.DictReader(handle):
            if (
                row["trial_kind"] == "main"
                and row["task"] == "forward"
                and float(row["rt_ms"] or 0) >= 250
            ):
                counts[row["condition"]][0] += row["answer_correct"] == "true"
                counts[row["condition"]][1] += 1
    assert {a["condition"] for a in summary["accuracy"]} == set(counts)
    for entry in summary["accuracy"]:
        assert entry["n_trials"] == counts[entry["condition"]][1]
        assert entry["accuracy"] == entry["n_correct"] / entry["n_trials"]
        assert entry["n_correct"] == counts[entry["condition"]][0]
