"""Background jobs: a status row exists before the task is queued; tasks claim it atomically.

Import and export jobs run on the web-jobs Celery worker (or in-process when no
broker is configured). A task takes the job's id, claims the row (a second
delivery of the same message finds it claimed and does nothing) and records the
outcome, including every problem found, on the row the admin shows.
"""

from __future__ import annotations

import secrets
import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from explainer.bundle_format import BundleError
from studyapp.models import ExportJob, ImportJob, Job, Study
from studyapp.services.bundles import bundle_import, bundle_import_archive
from studyapp.services.exports import export_write

FINISHED = {Job.Status.SUCCEEDED, Job.Status.FAILED}


def job_claim(model: type[Job], job_id: int) -> Job | None:
    """Move a queued job to running; None if another worker already has it (safe to run twice)."""
    with transaction.atomic():
        claimed = model.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
            status=Job.Status.RUNNING, started_at=timezone.now()
        )
    return model.objects.get(pk=job_id) if claimed else None


def job_finish(job: Job, *, ok: bool, message: str = "", problems: list[str] | None = None) -> None:
    """Record a job's outcome (and every problem found) on its status row."""
    job.status = Job.Status.SUCCEEDED if ok else Job.Status.FAILED
    job.finished_at = timezone.now()
    job.message = message
    job.problems = problems or []
    job.save(update_fields=["status", "finished_at", "message", "problems"])


def job_queue(send: Callable[[int], object], job_id: int) -> None:
    """Queue a task for a committed job row.

    With a broker, the message is sent once the surrounding transaction commits, so a
    worker never looks for a row it cannot see yet. Eager mode (no broker) runs the
    task right here, inside the caller's transaction.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        send(job_id)
    else:
        transaction.on_commit(lambda: send(job_id))


def job_wait(model: type[Job], job_id: int, *, timeout_s: float = 600.0, poll_s: float = 0.2) -> Job:
    """Block until a job is finished (or the timeout passes); return its row."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = model.objects.get(pk=job_id)
        if job.status in FINISHED or time.monotonic() > deadline:
            return job
        time.sleep(poll_s)


# --------------------------------------------------------------------------- imports


def import_job_create(*, source: Path, study_slug: str = "", original_name: str = "") -> ImportJob:
    """Create the status row of a bundle import (a folder or a zip archive), then queue it."""
    from studyapp.tasks import run_import_job

    job = ImportJob.objects.create(source=str(source), study_slug=study_slug, original_name=original_name)
    job_queue(run_import_job.delay, job.pk)
    return job


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a claimed import job; the row records the bundle or every problem found."""
    job = job_claim(ImportJob, job_id)
    if job is None:
        return None
    source = Path(job.source)
    try:
        bundle = bundle_import_archive(archive=source) if source.is_file() else bundle_import(bundle_dir=source)
    except BundleError as exc:
        job_finish(job, ok=False, message=f"{len(exc.problems)} problem(s) found; nothing was imported",
                   problems=exc.problems)
        return job
    except Exception as exc:  # record anything unexpected on the row, then let the worker log it
        job_finish(job, ok=False, message=f"import failed: {exc}", problems=[str(exc)])
        raise
    finally:
        _discard_upload(source)
    job.bundle = bundle
    job.save(update_fields=["bundle"])
    job_finish(job, ok=True, message=f"imported {bundle.stimuli.count()} stimuli into bundle {bundle.name}")
    return job


def _discard_upload(source: Path) -> None:
    """Delete an uploaded archive once used; never a folder or file outside UPLOAD_ROOT."""
    root = Path(settings.UPLOAD_ROOT).resolve()
    if source.is_file() and root in source.resolve().parents:
        source.unlink(missing_ok=True)


# --------------------------------------------------------------------------- exports


def export_job_create(*, study: Study, include_pilot: bool = False, include_recruitment_ids: bool = False) -> ExportJob:
    """Create an export job with an unguessable download token, then queue it."""
    from studyapp.tasks import run_export_job

    job = ExportJob.objects.create(
        study=study, download_token=secrets.token_urlsafe(32),
        options={"include_pilot": include_pilot, "include_recruitment_ids": include_recruitment_ids},
    )
    job_queue(run_export_job.delay, job.pk)
    return job


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Write the export, pack it as one zip under ``EXPORT_ROOT`` and record it on the row."""
    job = job_claim(ExportJob, job_id)
    if job is None:
        return None
    root = Path(settings.EXPORT_ROOT)
    work = root / f".work-{job.download_token}"
    try:
        summary = export_write(study=job.study, out_dir=work / job.study.slug,
                               include_pilot=bool(job.options.get("include_pilot")),
                               include_recruitment_ids=bool(job.options.get("include_recruitment_ids")))
        archive = _zip_folder(summary.out_dir, root / f"{job.download_token}.zip")
    except Exception as exc:
        job_finish(job, ok=False, message=f"export failed: {exc}", problems=[str(exc)])
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    job.archive_path, job.archive_bytes = str(archive), archive.stat().st_size
    job.n_trials, job.n_participants = summary.n_trials, summary.n_participants
    job.save(update_fields=["archive_path", "archive_bytes", "n_trials", "n_participants"])
    job_finish(job, ok=True, message=f"{summary.n_trials} trials, {summary.n_participants} participants, "
                                     f"{summary.n_events} audio events")
    return job


def _zip_folder(folder: Path, target: Path) -> Path:
    """Zip ``folder`` (as one top-level folder) to ``target``, file by file, via a temporary name."""
    tmp = target.with_name(target.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"{folder.name}/{path.name}")
    tmp.replace(target)
    return target


def export_job_file(*, token: str) -> ExportJob | None:
    """The finished export job with this download token, if its file is still there."""
    job = ExportJob.objects.select_related("study").filter(download_token=token, status=Job.Status.SUCCEEDED).first()
    if job is None or not job.archive_path or not Path(job.archive_path).is_file():
        return None
    return job
