"""Background jobs: a status row exists before the task is queued; tasks claim it atomically.

Import and export jobs run on the web-jobs Celery worker (or in-process when no
broker is configured). A task takes the job's id, claims the row (a second
delivery of the same message finds it claimed and does nothing), holds it on a
lease while it works and records the outcome, including every problem found, on
the row the admin shows. Leases and recovery from dead workers: ``job_leases``.
"""

from __future__ import annotations

import secrets
import shutil
import zipfile
from pathlib import Path

from django.conf import settings

from contracts.bundle_format import BundleError, heard_label_baseline_warnings
from studyapp.models import ExportJob, ImportJob, Study
from studyapp.services.bundles import bundle_import, bundle_import_archive
from studyapp.services.exports import export_write
from studyapp.services.job_leases import job_claim, job_finish, job_heartbeat, job_queue

__all__ = [
    "job_claim",
    "job_finish",
    "job_queue",
    "import_job_create",
    "import_job_run",
    "export_job_create",
    "export_job_run",
]


# --------------------------------------------------------------------------- imports


def import_job_create(*, source: Path, study_slug: str = "", original_name: str = "") -> ImportJob:
    """Create the status row of a bundle import (a folder or a zip archive), then queue it."""
    job = ImportJob.objects.create(
        source=str(source), study_slug=study_slug, original_name=original_name
    )
    job_queue(ImportJob, job_id=job.pk)
    return job


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a claimed import job; the row records the bundle or every problem found."""
    job = job_claim(ImportJob, job_id=job_id)
    if job is None:
        return None
    source = Path(job.source)
    try:
        with job_heartbeat(job):
            bundle = (
                bundle_import_archive(archive=source)
                if source.is_file()
                else bundle_import(bundle_dir=source)
            )
    except BundleError as exc:
        job_finish(
            job,
            ok=False,
            message=f"{len(exc.problems)} problem(s) found; nothing was imported",
            problems=exc.problems,
        )
        _discard_upload(source)
        return job
    except Exception as exc:  # record anything unexpected on the row, then let the worker log it
        job_finish(job, ok=False, message=f"import failed: {exc}", problems=[str(exc)])
        _discard_upload(source)
        raise
    # (A worker killed above leaves the upload in place for the run that replaces it.)
    warnings = heard_label_baseline_warnings(bundle.manifest)
    # bundle_import returns the stored bundle for a manifest it already has; one stored
    # before this job was created came from an earlier import, so nothing new was stored.
    done = (
        f"imported {bundle.stimuli.count()} stimuli into bundle {bundle.name}"
        if bundle.imported_at >= job.created_at
        else f"bundle {bundle.name} was already imported on {bundle.imported_at:%Y-%m-%d %H:%M} "
        f"UTC with the same manifest: nothing new was stored ({bundle.stimuli.count()} stimuli)"
    )
    job_finish(
        job,
        ok=True,
        message=done + "".join(f"; warning: {w}" for w in warnings),
        problems=warnings,
        bundle=bundle,
    )
    _discard_upload(source)
    return job


def _discard_upload(source: Path) -> None:
    """Delete an uploaded archive once used; never a folder or file outside UPLOAD_ROOT."""
    root = Path(settings.UPLOAD_ROOT).resolve()
    if source.is_file() and root in source.resolve().parents:
        source.unlink(missing_ok=True)


# --------------------------------------------------------------------------- exports


def export_job_create(
    *, study: Study, include_pilot: bool = False, include_recruitment_ids: bool = False
) -> ExportJob:
    """Create an export job with an unguessable download token, then queue it."""
    job = ExportJob.objects.create(
        study=study,
        download_token=secrets.token_urlsafe(32),
        options={
            "include_pilot": include_pilot,
            "include_recruitment_ids": include_recruitment_ids,
        },
    )
    job_queue(ExportJob, job_id=job.pk)
    return job


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Write the export, pack it as one zip under ``EXPORT_ROOT`` and record it on the row."""
    job = job_claim(ExportJob, job_id=job_id)
    if job is None:
        return None
    root = Path(settings.EXPORT_ROOT)
    _discard_partial_exports(root, job.download_token)
    # Named by the claim, so a run that lost its lease never shares files with its successor.
    work = root / f".work-{job.download_token}-{job.claim}"
    try:
        with job_heartbeat(job):
            summary = export_write(
                study=job.study,
                out_dir=work / job.study.slug,
                include_pilot=bool(job.options.get("include_pilot")),
                include_recruitment_ids=bool(job.options.get("include_recruitment_ids")),
            )
            archive = _zip_folder(
                summary.out_dir, root / f"{job.download_token}.zip", part=job.claim
            )
    except Exception as exc:
        job_finish(job, ok=False, message=f"export failed: {exc}", problems=[str(exc)])
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    job_finish(
        job,
        ok=True,
        message=f"{summary.n_trials} trials, {summary.n_participants} participants, "
        f"{summary.n_events} audio events",
        archive_path=str(archive),
        archive_bytes=archive.stat().st_size,
        n_trials=summary.n_trials,
        n_participants=summary.n_participants,
    )
    return job


def _discard_partial_exports(root: Path, token: str) -> None:
    """Remove what earlier runs of this export left behind when their worker was killed."""
    if not root.is_dir():
        return
    for leftover in [*root.glob(f".work-{token}-*"), *root.glob(f"{token}.zip.*.part")]:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _zip_folder(folder: Path, target: Path, *, part: str = "tmp") -> Path:
    """Zip ``folder`` (as one top-level folder) to ``target``, file by file, via a temporary name."""
    tmp = target.with_name(f"{target.name}.{part}.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"{folder.name}/{path.name}")
    tmp.replace(target)
    return target
