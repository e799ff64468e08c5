"""Run concurrent enrolments against a file-based SQLite database (as a real embedded deployment has).

Usage: ``python -m tests.studyapp.sqlite_race DATA_DIR BUNDLE_DIR N_THREADS TARGET``; prints one
JSON object with the arms of the sessions created and the outcomes seen by the threads.
The pytest database for SQLite is in memory with a shared cache, where concurrent
writers get "table is locked" instead of waiting, so this runs in its own process.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path


def main(data_dir: Path, bundle_dir: Path, n_threads: int, target: int) -> None:
    os.environ["HEARXAI_DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir / 'race.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from studyapp.models import Participant
    from studyapp.services.bundles import bundle_import
    from tests.studyapp.research_helpers import study_on
    from tests.studyapp.test_assignment_concurrency import _enrol_all_at_once

    call_command("migrate", verbosity=0)
    study = study_on(
        bundle_import(bundle_dir=bundle_dir), slug="race", target_per_condition=target, n_trials=4
    )
    outcomes, errors = _enrol_all_at_once(study.pk, n_threads)
    arms = Counter(Participant.objects.filter(study=study).values_list("arm", flat=True))
    print(
        json.dumps(
            {"arms": arms, "outcomes": Counter(outcomes), "errors": [repr(e) for e in errors]}
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
