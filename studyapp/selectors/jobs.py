"""Background jobs as the researcher sees them: waiting for one, and finished exports' archives."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from studyapp.models import ExportJob, Job

FINISHED = {Job.Status.SUCCEEDED, Job.Status.FAILED}


def job_wait(
    model: type[Job], *, job_id: int, timeout_s: float = 600.0, poll_s: float = 0.2
) -> Job:
    """Block until a job is finished (or the timeout passes); return its row."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = model.objects.get(pk=job_id)
        if job.status in FINISHED or time.monotonic() > deadline:
            return job
        time.sleep(poll_s)


def export_expires_at(job: ExportJob) -> datetime | None:
    """When the job's archive stops being offered (None: never, or not finished)."""
    days = settings.EXPORT_KEEP_DAYS  # (None: kept for ever)
    if days is None or job.finished_at is None:
        return None
    return job.finished_at + timedelta(days=days)


def export_expired(job: ExportJob, *, now: datetime | None = None) -> bool:
    expires = export_expires_at(job)
    return expires is not None and expires <= (now or timezone.now())


def export_job_file(*, token: str) -> ExportJob | None:
    """The finished export job with this download token, if its file is still there and not past its deadline."""
    job = (
        ExportJob.objects.select_related("study")
        .filter(download_token=token, status=Job.Status.SUCCEEDED)
        .first()
    )
    if (
        job is None
        or not job.archive_path
        or export_expired(job)
        or not Path(job.archive_path).is_file()
    ):
        return None
    return job
