"""Job leases: a job whose worker died is run again, safely, and the admin says what is going on.

These run the services in-process (tasks eager, or a broker that is not there); the
same recovery with a real Celery worker killed by SIGKILL is in
tests/reliability/test_job_worker_killed.py.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studyapp.celery import app
from studyapp.models import ExportJob, ImportJob, Job
from studyapp.services.job_leases import (
    WAITING_FOR_QUEUE,
    job_claim,
    job_finish,
    job_heartbeat,
    job_queue,
    job_state_note,
    jobs_recover,
)
from studyapp.services.jobs import export_job_run, import_job_run
from tests.processes import free_port
from tests.studyapp.research_helpers import bundle_folder, bundle_with, complete, study_on

pytestmark = pytest.mark.django_db


def _left_running_by_a_dead_worker(
    model: type[Job], job: Job, *, silent_s: float, attempts: int = 1
) -> Job:
    """The row as a worker killed mid-job leaves it: running, claimed, heartbeat gone quiet."""
    then = timezone.now() - timedelta(seconds=silent_s)
    model.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        claim="dead-worker",
        attempts=attempts,
        started_at=then,
        heartbeat_at=then,
    )
    return model.objects.get(pk=job.pk)


@pytest.fixture
def queued_import(media_root: Path) -> ImportJob:
    return ImportJob.objects.create(source=str(bundle_folder(n=12)))


def test_a_second_delivery_of_a_job_a_live_worker_holds_does_nothing(
    queued_import: ImportJob, settings: Any
) -> None:
    first = job_claim(ImportJob, job_id=queued_import.pk)
    assert first is not None and first.status == "running" and first.attempts == 1 and first.claim
    assert job_claim(ImportJob, job_id=queued_import.pk) is None
    assert import_job_run(job_id=queued_import.pk) is None
    assert jobs_recover() == []
    assert ImportJob.objects.get(pk=queued_import.pk).claim == first.claim


def test_a_redelivered_job_whose_worker_died_is_claimed_again_and_completes(
    queued_import: ImportJob, settings: Any
) -> None:
    dead = _left_running_by_a_dead_worker(
        ImportJob, queued_import, silent_s=settings.JOB_LEASE_S + 5
    )
    done = import_job_run(job_id=dead.pk)
    assert done is not None and done.status == "succeeded" and done.attempts == 2
    assert done.bundle is not None and done.bundle.stimuli.count() == 12
    # The dead run, had it come back to life, could not overwrite the outcome.
    assert job_finish(dead, ok=False, message="late") is False
    assert ImportJob.objects.get(pk=dead.pk).status == "succeeded"


def test_the_recovery_sweep_requeues_a_dead_workers_job_and_leaves_a_live_one(
    media_root: Path, settings: Any
) -> None:
    dead = _left_running_by_a_dead_worker(
        ImportJob, ImportJob.objects.create(source="x"), silent_s=settings.JOB_LEASE_S + 1
    )
    alive = _left_running_by_a_dead_worker(
        ImportJob, ImportJob.objects.create(source="y"), silent_s=settings.JOB_LEASE_S - 5
    )
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.JOB_SWEEP_S = 1
    with _broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        actions = jobs_recover()
    assert any(f"re-queued import #{dead.pk}" in a for a in actions), actions
    dead.refresh_from_db()
    assert (
        dead.status == "queued"
        and dead.claim == ""
        and "queued again for attempt 2 of 3" in dead.message
    )
    alive.refresh_from_db()
    assert alive.status == "running" and alive.claim == "dead-worker"


def test_a_job_whose_workers_keep_dying_fails_after_the_last_attempt(
    media_root: Path, settings: Any
) -> None:
    job = ImportJob.objects.create(source="x")
    _left_running_by_a_dead_worker(
        ImportJob, job, silent_s=settings.JOB_LEASE_S + 1, attempts=settings.JOB_MAX_ATTEMPTS
    )
    assert job_claim(ImportJob, job_id=job.pk) is None
    jobs_recover()
    job.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None
    assert (
        f"{settings.JOB_MAX_ATTEMPTS} of {settings.JOB_MAX_ATTEMPTS} attempts used" in job.message
    )


class _broker_at:
    """This process sends tasks to ``url`` (a port where nothing listens: Redis is down)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        self.saved = app.conf.broker_url
        app.conf.broker_url = self.url
        _drop_connections()

    def __exit__(self, *exc: object) -> None:
        app.conf.broker_url = self.saved
        _drop_connections()


def _drop_connections() -> None:
    # Celery caches its connection and producer pools; drop them so the broker URL applies.
    app._pool = None
    app.amqp._producer_pool = None


def test_a_job_queued_while_redis_is_down_waits_and_says_so_in_the_admin(
    admin_client: Client, media_root: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.JOB_SWEEP_S = 1
    with _broker_at(f"redis://127.0.0.1:{free_port()}/0"):
        with django_capture_on_commit_callbacks(execute=True):
            job = ImportJob.objects.create(source=str(bundle_folder(n=12)))
            job_queue(ImportJob, job_id=job.pk)
        job.refresh_from_db()
        assert (
            job.status == "queued"
            and job.dispatched_at is None
            and job.message == WAITING_FOR_QUEUE
        )
        page = admin_client.get(
            reverse("admin:studyapp_importjob_change", args=[job.pk])
        ).content.decode()
        assert "Waiting for the task queue (Redis)" in page and 'http-equiv="refresh"' in page
        ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(seconds=5))
        assert jobs_recover() == [f"could not send ImportJob #{job.pk} to the queue"]
    # Redis is back (here: tasks run in-process again): the next sweep sends it and it runs.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert jobs_recover() == [f"sent ImportJob #{job.pk} to the queue"]
    job.refresh_from_db()
    assert job.status == "succeeded" and job.dispatched_at is not None and job.attempts == 1


def test_the_admin_and_the_command_tell_a_live_job_from_a_dead_workers_job(
    admin_client: Client, media_root: Path, settings: Any, capsys: Any
) -> None:
    live = _left_running_by_a_dead_worker(
        ImportJob, ImportJob.objects.create(source="x"), silent_s=2
    )
    dead = _left_running_by_a_dead_worker(
        ImportJob, ImportJob.objects.create(source="y"), silent_s=settings.JOB_LEASE_S + 30
    )
    assert job_state_note(live).startswith("Running on a worker (attempt 1 of 3; last sign of life")
    page = admin_client.get(
        reverse("admin:studyapp_importjob_change", args=[dead.pk])
    ).content.decode()
    assert "No sign of life from its worker" in page and "presumed stopped" in page
    call_command("recover_jobs")
    out = capsys.readouterr().out
    assert (
        f"re-queued import #{dead.pk}" in out
        and f"import #{live.pk} running: Running on a worker" in out
    )


@pytest.mark.django_db(transaction=True)
def test_a_running_job_renews_its_lease_until_it_ends(media_root: Path, settings: Any) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.JOB_HEARTBEAT_S = 0.05
    job = job_claim(ImportJob, job_id=ImportJob.objects.create(source="x").pk)
    assert job is not None
    with job_heartbeat(job):
        first = ImportJob.objects.get(pk=job.pk).heartbeat_at
        time.sleep(0.5)
        assert ImportJob.objects.get(pk=job.pk).heartbeat_at > first
    last = ImportJob.objects.get(pk=job.pk).heartbeat_at
    time.sleep(0.3)
    assert ImportJob.objects.get(pk=job.pk).heartbeat_at == last  # the thread stopped with the job


def test_an_export_rerun_after_a_dead_worker_clears_what_the_dead_run_left(
    tmp_path: Path, media_root: Path, settings: Any
) -> None:
    study = study_on(bundle_with(tmp_path, n=12), slug="rerun")
    complete(study, "p1")
    job = ExportJob.objects.create(study=study, download_token="tok" + "x" * 40)
    root = Path(settings.EXPORT_ROOT)
    (root / f".work-{job.download_token}-deadclaim" / "rerun").mkdir(parents=True)
    (root / f"{job.download_token}.zip.deadclaim.part").write_bytes(b"half a zip")
    _left_running_by_a_dead_worker(ExportJob, job, silent_s=settings.JOB_LEASE_S + 1)
    done = export_job_run(job_id=job.pk)
    assert done is not None and done.status == "succeeded" and done.n_participants == 1
    assert sorted(p.name for p in root.iterdir()) == [f"{job.download_token}.zip"]


def test_beat_sends_the_registered_sweep_task_every_sweep_interval() -> None:
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["sweep-jobs"]
    assert entry["task"] in app.tasks and entry["schedule"] == settings.JOB_SWEEP_S
    assert entry["options"]["expires"] == settings.JOB_SWEEP_S  # a late sweep gives way to the next


def test_the_celery_app_imports_nothing_of_the_project_so_no_import_cycle_runs_through_it() -> None:
    import ast
    import inspect

    import studyapp.celery
    import studyapp.services.job_leases

    def imported(module: object) -> set[str]:
        tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
        return {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }  # type: ignore[misc]

    assert not {m for m in imported(studyapp.celery) if m and m.startswith("studyapp")}
    assert "studyapp.tasks" not in imported(studyapp.services.job_leases)
