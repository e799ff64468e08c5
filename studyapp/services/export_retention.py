"""Export archives are removed a while after they were made (``HEARXAI_EXPORT_KEEP_DAYS``).

An export zip holds a whole study's answers, and recruitment ids when asked for. A copy
left on the server for years is a leak waiting to happen and cannot be called back,
while the data itself stays in the database, so a researcher can export again at any
time. The download link stops working at the deadline (``selectors.jobs.export_expired``), and
the web-jobs workers' sweep (``tasks.sweep_jobs``, sent by Celery beat) deletes the
file and says so on the job (:func:`exports_expire`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from studyapp.models import ExportJob, Job


def exports_expire(now: datetime | None = None) -> list[str]:
    """Delete the archives of finished exports past their deadline; one line per archive removed.

    Safe to run from several workers at once: the row is cleared by a conditional update
    first, and deleting a file that is already gone is not an error.
    """
    days = settings.EXPORT_KEEP_DAYS
    if days is None:
        return []
    now = now or timezone.now()
    actions = []
    old = ExportJob.objects.filter(
        status=Job.Status.SUCCEEDED, finished_at__lte=now - timedelta(days=days)
    )
    for job in old.exclude(archive_path="").only("pk", "archive_path", "message"):
        note = (
            f"{job.message} · archive deleted after {days} days (export again to download the data)"
        )
        if ExportJob.objects.filter(pk=job.pk, archive_path=job.archive_path).update(
            archive_path="", message=note
        ):
            Path(job.archive_path).unlink(missing_ok=True)
            actions.append(f"export job {job.pk}: archive deleted after {days} days")
    return actions
