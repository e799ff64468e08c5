"""Queue a bundle import through the configured broker and wait for a worker to finish it.

Run in a subprocess with production settings (the test process itself runs Celery
eagerly): ``python -m tests.deploy.queue_import BUNDLE_DIR``. Prints one JSON object
describing the finished job; exits 2 if tasks would run in-process instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import django


def main(bundle_dir: Path) -> int:
    django.setup()
    from django.conf import settings

    from studyapp.models import ImportJob
    from studyapp.selectors.jobs import job_wait
    from studyapp.services.jobs import import_job_create

    if settings.CELERY_TASK_ALWAYS_EAGER:
        print("tasks run eagerly: REDIS_URL is not in effect", file=sys.stderr)
        return 2
    job = import_job_create(source=bundle_dir)
    done = job_wait(ImportJob, job_id=job.pk, timeout_s=40, poll_s=0.1)
    print(
        json.dumps(
            {
                "job_id": done.pk,
                "status": done.status,
                "message": done.message,
                "problems": done.problems,
                "broker": settings.CELERY_BROKER_URL,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
