"""A real Celery worker over Redis runs an import job and an export job queued by the site.

The worker is a separate process (``celery -A studyapp worker``) that shares the
test database, so this runs on PostgreSQL only. Messages go to a queue private to
this run, so workers of other runs on the same Redis never take them.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from studyapp.celery import app
from studyapp.models import ExportJob, ImportJob, Study
from studyapp.selectors.jobs import job_wait
from studyapp.services.jobs import export_job_create, import_job_create
from tests.conftest import REPO
from tests.studyapp.research_helpers import bundle_folder, complete, study_on, zip_folder

TIMEOUT_S = 120


def _database_url() -> str:
    db = django_settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def _worker(redis_url: str, queue: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "HEARXAI_MEDIA_ROOT": str(django_settings.MEDIA_ROOT),
        "HEARXAI_EXPORT_ROOT": str(django_settings.EXPORT_ROOT),
        "HEARXAI_UPLOAD_ROOT": str(django_settings.UPLOAD_ROOT),
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "studyapp",
        "worker",
        "-Q",
        queue,
        "--pool",
        "solo",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "INFO",
    ]
    with open(log, "wb") as out:
        worker = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield worker
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def _reset_routing() -> None:
    # Celery caches the producer pool, queues and router; drop them so the new settings apply.
    app._pool = None
    for name in ("queues", "router", "default_queue"):
        app.amqp.__dict__.pop(name, None)
    app.amqp._rtable = None
    app.amqp._producer_pool = None


@contextmanager
def _site_sends_to(redis_url: str, queue: str, settings: Any) -> Iterator[None]:
    """This process queues jobs on the real broker instead of running them eagerly."""
    keys = ("broker_url", "task_always_eager", "task_default_queue", "task_routes")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(
        broker_url=redis_url,
        task_always_eager=False,
        task_default_queue=queue,
        task_routes={"studyapp.tasks.*": {"queue": queue}},
    )
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _reset_routing()
    try:
        yield
    finally:
        app.conf.update(**saved)
        _reset_routing()


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_over_redis_runs_an_import_job_and_an_export_job(
    require_redis: str, media_root: Path, tmp_path: Path, settings: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the worker process must share the test database: PostgreSQL only")
    queue = f"hearxai-test-{secrets.token_hex(6)}"
    log = tmp_path / "worker.log"
    archive = zip_folder(bundle_folder(n=12), tmp_path / "bundle.zip")
    with _worker(require_redis, queue, log), _site_sends_to(require_redis, queue, settings):
        job = import_job_create(source=archive, original_name="bundle.zip")
        assert ImportJob.objects.get(pk=job.pk).status in {"queued", "running"}, (
            "ran in-process, not on the worker"
        )
        job = job_wait(ImportJob, job_id=job.pk, timeout_s=TIMEOUT_S)
        assert job.status == ImportJob.Status.SUCCEEDED, (
            job.message,
            job.problems,
            log.read_text()[-3000:],
        )
        assert job.bundle is not None and job.bundle.stimuli.count() == 12

        settings.CELERY_TASK_ALWAYS_EAGER = True  # the sessions themselves are made in this process
        study = study_on(job.bundle, slug="worker")
        complete(study, "p1")
        settings.CELERY_TASK_ALWAYS_EAGER = False
        export = export_job_create(study=study)
        export = job_wait(ExportJob, job_id=export.pk, timeout_s=TIMEOUT_S)
        assert export.status == ExportJob.Status.SUCCEEDED, (
            export.message,
            log.read_text()[-3000:],
        )
        with zipfile.ZipFile(export.archive_path) as zf:
            assert len(zf.read("worker/trials.csv").decode().splitlines()) == 1 + study.n_trials
    text = log.read_text()
    assert "run_import_job" in text and "run_export_job" in text and text.count("succeeded") >= 2, (
        text[-3000:]
    )
    assert Study.objects.filter(slug="worker").exists()
