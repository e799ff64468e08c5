"""Celery app of the web side (imports, exports). Never imports torch.

Every worker of this app also runs the job recovery sweep
(``services.job_leases.jobs_recover``) in a background thread, every ``JOB_SWEEP_S``
seconds: it queues again the jobs of workers that died and sends jobs whose message
never reached Redis, so nothing waits for a person to notice.
"""

import os
import threading
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")

app = Celery("studyapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["studyapp"])

_sweep_stop = threading.Event()


@worker_ready.connect
def start_job_sweep(**kwargs: Any) -> None:
    """Start the recovery sweep once the worker is up (it runs whether or not Redis is reachable)."""
    from django.conf import settings

    from studyapp.services.job_leases import jobs_sweep_forever

    interval = settings.JOB_SWEEP_S
    if interval > 0:
        threading.Thread(
            target=jobs_sweep_forever, args=(interval, _sweep_stop), name="job-sweep", daemon=True
        ).start()


@worker_shutdown.connect
def stop_job_sweep(**kwargs: Any) -> None:
    _sweep_stop.set()
