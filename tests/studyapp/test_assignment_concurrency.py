"""Concurrent arrivals cannot overfill a condition: the database serialises the decision.

Real threads, each with its own database connection, enrol at the same instant. On
PostgreSQL the study row lock (``select_for_update``) makes them wait for each other;
the test shows the target is never exceeded and every slot is used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection, connections

from studyapp.models import Participant, Study
from studyapp.services.participants import StudyUnavailable, participant_enroll
from tests.conftest import REPO
from tests.studyapp.research_helpers import bundle_folder, bundle_with, study_on

N_THREADS = 12
TARGET = 2


def _enrol_all_at_once(study_id: int, n: int) -> tuple[list[str], list[BaseException]]:
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def arrive(i: int) -> None:
        try:
            study = Study.objects.get(pk=study_id)
            barrier.wait(timeout=30)
            try:
                participant, _ = participant_enroll(
                    study=study, recruitment={"participant_label": f"t{i}"}
                )
                result = participant.arm
            except StudyUnavailable as exc:
                result = f"refused:{exc.reason}"
            with lock:
                outcomes.append(result)
        except BaseException as exc:  # surfaced by the assertion below
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=arrive, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_arrivals_never_overfill_a_condition(media_root: Path, tmp_path: Path) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite serialises whole-database writes, so there is no race to show"
        )
    study = study_on(bundle_with(tmp_path), slug="race", target_per_condition=TARGET, n_trials=4)
    outcomes, errors = _enrol_all_at_once(study.pk, N_THREADS)
    assert not errors, errors
    per_arm = Counter(Participant.objects.filter(study=study).values_list("arm", flat=True))
    assert per_arm == {"visual": TARGET, "audible": TARGET}
    assert Counter(outcomes) == {
        "visual": TARGET,
        "audible": TARGET,
        "refused:full": N_THREADS - 2 * TARGET,
    }
    assert all(p.trials.count() == 4 for p in Participant.objects.filter(study=study))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_arrivals_without_a_target_stay_balanced(
    media_root: Path, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite serialises whole-database writes, so there is no race to show"
        )
    study = study_on(
        bundle_with(tmp_path), slug="race2", modalities=("visual", "audible", "both"), n_trials=2
    )
    outcomes, errors = _enrol_all_at_once(study.pk, N_THREADS)
    assert not errors, errors
    assert Counter(outcomes) == {"visual": 4, "audible": 4, "both": 4}


def test_concurrent_arrivals_never_overfill_a_condition_on_a_sqlite_file_database(
    tmp_path: Path,
) -> None:
    """The embedded setup (SQLite file, WAL, BEGIN IMMEDIATE) serialises enrolments too."""
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("runs in the SQLite pass of the suite (it makes its own SQLite database)")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.studyapp.sqlite_race",
            str(tmp_path),
            str(bundle_folder()),
            str(N_THREADS),
            str(TARGET),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "REDIS_URL": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["errors"] == []
    assert outcome["arms"] == {"visual": TARGET, "audible": TARGET}
    assert outcome["outcomes"] == {
        "visual": TARGET,
        "audible": TARGET,
        "refused:full": N_THREADS - 2 * TARGET,
    }
