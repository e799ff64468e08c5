"""Background jobs: a status row exists before the task is queued; tasks claim it atomically."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction
from django.utils import timezone

from explainer.bundle_format import BundleError
from studyapp.models import ImportJob, Job
from studyapp.services.bundles import bundle_import


def job_claim(model: type[Job], job_id: int) -> Job | None:
    """Move a queued job to running; None if another worker already has it (safe to run twice)."""
    with transaction.atomic():
        claimed = model.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
            status=Job.Status.RUNNING, started_at=timezone.now()
        )
    return model.objects.get(pk=job_id) if claimed else None


def job_finish(job: Job, *, ok: bool, message: str = "", problems: list[str] | None = None) -> None:
    job.status = Job.Status.SUCCEEDED if ok else Job.Status.FAILED
    job.finished_at = timezone.now()
    job.message = message
    job.problems = problems or []
    job.save(update_fields=["status", "finished_at", "message", "problems"])


def import_job_create(*, source: Path, study_slug: str = "") -> ImportJob:
    """Create the status row, then queue the task.

    Call outside a transaction (the row must be committed before a worker looks
    for it); with eager Celery the task runs here, in-process.
    """
    from studyapp.tasks import run_import_job

    job = ImportJob.objects.create(source=str(source), study_slug=study_slug)
    run_import_job.delay(job.pk)
    return job


def job_wait(model: type[Job], job_id: int, *, timeout_s: float = 600.0, poll_s: float = 0.2) -> Job:
    """Block until a job is finished (or the timeout passes); return its row."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        job = model.objects.get(pk=job_id)
        if job.status in {Job.Status.SUCCEEDED, Job.Status.FAILED} or time.monotonic() > deadline:
            return job
        time.sleep(poll_s)


def import_job_run(*, job_id: int) -> ImportJob | None:
    job = job_claim(ImportJob, job_id)
    if job is None:
        return None
    try:
        bundle = bundle_import(bundle_dir=Path(job.source))
    except BundleError as exc:
        job_finish(job, ok=False, message=f"{len(exc.problems)} problems found", problems=exc.problems)
        return job
    except Exception as exc:  # record anything unexpected on the row, then let the worker log it
        job_finish(job, ok=False, message=f"import failed: {exc}", problems=[str(exc)])
        raise
    job.bundle = bundle
    job.save(update_fields=["bundle"])
    job_finish(job, ok=True, message=f"imported {bundle.stimuli.count()} stimuli")
    return job
