"""The life of a background job's status row: queue, claim, heartbeat, finish, recover.

A job row exists before its task is queued. A worker claims it atomically and then
holds it on a lease, renewing ``heartbeat_at`` every ``JOB_HEARTBEAT_S`` while it
works. If the worker dies hard (SIGKILL, out of memory, power loss) the heartbeat
stops; once it is older than ``JOB_LEASE_S`` the job may be claimed again, by a
redelivered message or by :func:`jobs_recover`, which Celery beat has a web-jobs
worker run every ``JOB_SWEEP_S`` (``tasks.sweep_jobs``; ``manage.py recover_jobs``
runs it once). Each claim gets a random ``claim`` id and only the holder of the
current claim can record an outcome, so a worker that was merely slow can never
overwrite the run that replaced it.

A job whose message could not be handed to the queue (Redis down) stays queued with
a note saying so; the next sweep after Redis is back sends it.

What Celery itself does is used where it does the job: tasks acknowledge late, so a
message whose worker died is delivered again (after the Redis transport's visibility
timeout, an hour), and beat schedules the sweep. The lease covers what those cannot:
a job row claimed once, a dead worker noticed within ``JOB_LEASE_S`` instead of the
visibility timeout, and a message that never reached Redis at all.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from celery.exceptions import OperationalError
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from studyapp.celery import app
from studyapp.models import ExportJob, ImportJob, Job
from studyapp.services.export_retention import exports_expire

logger = logging.getLogger(__name__)
WAITING_FOR_QUEUE = (
    "Waiting for the task queue (Redis) to accept this job; it is sent again "
    "automatically as soon as the queue is reachable."
)
# Failures of the broker connection (kombu wraps most; redis-py and sockets may surface as such).
BROKER_ERRORS: tuple[type[BaseException], ...] = (OperationalError, OSError, ConnectionError)
try:
    from redis.exceptions import RedisError

    BROKER_ERRORS += (RedisError,)
except ImportError:  # pragma: no cover - redis is part of the web extra
    pass


def _lease() -> timedelta:
    return timedelta(seconds=settings.JOB_LEASE_S)


def _stale(now: Any) -> Q:
    """Running jobs whose worker has shown no sign of life for a whole lease."""
    cutoff = now - _lease()
    return Q(status=Job.Status.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )


# The Celery task that runs each kind of job (studyapp/tasks.py registers them under these
# names). Looked up in the app's task registry, so this module never imports the tasks,
# which import the services that import this module.
JOB_TASKS: dict[type[Job], str] = {
    ImportJob: "studyapp.tasks.run_import_job",
    ExportJob: "studyapp.tasks.run_export_job",
}


def job_task(model: type[Job]) -> Callable[[int], object]:
    """The ``delay`` of the Celery task that runs jobs of ``model``."""
    return app.tasks[JOB_TASKS[model]].delay


# --------------------------------------------------------------------------- queueing


def job_queue(model: type[Job], *, job_id: int) -> None:
    """Queue the task of a job row that the current transaction creates.

    With a broker, the message goes once the transaction commits, so a worker never
    looks for a row it cannot see yet. Eager mode (no broker) runs the task right here,
    inside the caller's transaction.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        job_task(model)(job_id)
    else:
        transaction.on_commit(lambda: job_dispatch(model, job_id=job_id))


def job_dispatch(model: type[Job], *, job_id: int) -> bool:
    """Hand a queued job's task to the broker; False (and a note on the row) if it is unreachable."""
    try:
        job_task(model)(job_id)
    except BROKER_ERRORS as exc:
        logger.warning(
            "job %s #%s not queued, the broker is unreachable: %s", model.__name__, job_id, exc
        )
        model.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
            dispatched_at=None, message=WAITING_FOR_QUEUE
        )
        return False
    model.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        dispatched_at=timezone.now(), message=""
    )
    return True


# --------------------------------------------------------------------------- running


def job_claim(model: type[Job], *, job_id: int) -> Job | None:
    """Take a queued job, or a running one whose worker died, for this run.

    Returns the claimed row, or None if the job is finished, out of attempts, or held
    by a live worker (a duplicate message, safe to drop).
    """
    now = timezone.now()
    claim = secrets.token_hex(16)
    claimable = Q(status=Job.Status.QUEUED) | _stale(now)
    with transaction.atomic():
        claimed = model.objects.filter(
            claimable, pk=job_id, attempts__lt=settings.JOB_MAX_ATTEMPTS
        ).update(
            status=Job.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            claim=claim,
            attempts=F("attempts") + 1,
            message="",
        )
    return model.objects.get(pk=job_id) if claimed else None


def job_finish(
    job: Job, *, ok: bool, message: str = "", problems: list[str] | None = None, **fields: Any
) -> bool:
    """Record a job's outcome (and every problem found) on its row, with ``fields`` (e.g. ``bundle``).

    Returns False, recording nothing, if this run no longer holds the job (its lease
    ran out and another run took it over).
    """
    outcome = {
        "status": Job.Status.SUCCEEDED if ok else Job.Status.FAILED,
        "finished_at": timezone.now(),
        "message": message,
        "problems": problems or [],
        **fields,
    }
    written = (
        type(job)
        .objects.filter(pk=job.pk, claim=job.claim, status=Job.Status.RUNNING)
        .update(**outcome)
    )
    if not written:
        logger.warning("%s lost its lease before finishing; its outcome is not recorded", job)
        return False
    for name, value in outcome.items():
        setattr(job, name, value)
    return True


@contextmanager
def job_heartbeat(job: Job) -> Iterator[None]:
    """Renew the job's lease from a background thread while the body runs.

    Not needed when tasks run eagerly (the job lives and dies with the request that
    runs it), so nothing is started then.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER or settings.JOB_HEARTBEAT_S <= 0:
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(target=_beat, args=(job, stop), name=f"heartbeat-{job}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def _beat(job: Job, stop: threading.Event) -> None:
    model = type(job)
    try:
        while not stop.wait(settings.JOB_HEARTBEAT_S):
            held = model.objects.filter(
                pk=job.pk, claim=job.claim, status=Job.Status.RUNNING
            ).update(heartbeat_at=timezone.now())
            if not held:
                return
    except Exception:  # a heartbeat that cannot reach the database ends; the lease then runs out
        logger.exception("heartbeat of %s stopped", job)
    finally:
        connection.close()  # this thread's own connection


# --------------------------------------------------------------------------- recovery


def jobs_recover(*, now: Any = None) -> list[str]:
    """Re-queue jobs of dead workers and send jobs that never reached the queue.

    Safe to run from several processes at once: every change is a conditional update,
    and a message sent twice is dropped by :func:`job_claim`. Returns one line per action.
    """
    now = now or timezone.now()
    actions: list[str] = []
    for model in (ImportJob, ExportJob):
        actions += _requeue_dead(model, now)
        actions += _send_unsent(model, now)
    return actions


def _requeue_dead(model: type[Job], now: Any) -> list[str]:
    actions = []
    for job in model.objects.filter(_stale(now)):
        silent = job.heartbeat_at or job.started_at
        if job.attempts >= settings.JOB_MAX_ATTEMPTS:
            note = (
                f"the worker running it stopped without finishing (no sign of life since {silent:%H:%M:%S} UTC); "
                f"{job.attempts} of {settings.JOB_MAX_ATTEMPTS} attempts used, so it is not tried again"
            )
            changed = model.objects.filter(_stale(now), pk=job.pk).update(
                status=Job.Status.FAILED, finished_at=now, message=note, problems=[note], claim=""
            )
            verb = "failed"
        else:
            note = (
                f"the worker running it stopped (no sign of life since {silent:%H:%M:%S} UTC); "
                f"queued again for attempt {job.attempts + 1} of {settings.JOB_MAX_ATTEMPTS}"
            )
            changed = model.objects.filter(_stale(now), pk=job.pk).update(
                status=Job.Status.QUEUED, dispatched_at=None, claim="", message=note
            )
            verb = "re-queued"
        if changed:
            actions.append(f"{verb} {job}: {note}")
    return actions


def _send_unsent(model: type[Job], now: Any) -> list[str]:
    """Send queued jobs whose message never went out, or went out long ago and was not taken."""
    # A grace period: the request that created a job sends its message right after commit.
    grace = now - timedelta(seconds=max(2, settings.JOB_SWEEP_S))
    stale_send = now - timedelta(seconds=settings.JOB_REDISPATCH_S)
    due = Q(dispatched_at__isnull=True, created_at__lt=grace) | Q(dispatched_at__lt=stale_send)
    actions = []
    for pk in model.objects.filter(due, status=Job.Status.QUEUED).values_list("pk", flat=True):
        # Take the send (another sweeping worker may be on the same row).
        if model.objects.filter(due, pk=pk, status=Job.Status.QUEUED).update(dispatched_at=now):
            sent = job_dispatch(model, job_id=pk)
            actions.append(
                f"{'sent' if sent else 'could not send'} {model.__name__} #{pk} to the queue"
            )
    return actions


def jobs_sweep() -> None:
    """One recovery sweep (:func:`jobs_recover`) and one round of ``exports_expire``, logged."""
    for action in jobs_recover():
        logger.warning("job recovery: %s", action)
    for action in exports_expire():
        logger.info("export retention: %s", action)


def job_state_note(job: Job, *, now: Any = None) -> str:
    """One sentence for the admin: where the job is and what happens next."""
    now = now or timezone.now()
    if job.status == Job.Status.QUEUED:
        if job.dispatched_at is None:
            return job.message or WAITING_FOR_QUEUE
        return f"In the queue since {job.dispatched_at:%H:%M:%S} UTC; a worker will start it."
    if job.status == Job.Status.RUNNING:
        seen = job.heartbeat_at or job.started_at or now
        silent_s = max(0, int((now - seen).total_seconds()))
        attempt = f"attempt {job.attempts} of {settings.JOB_MAX_ATTEMPTS}"
        if silent_s > settings.JOB_LEASE_S:
            return (
                f"No sign of life from its worker for {silent_s} s ({attempt}): the worker is presumed "
                "stopped, and the job is queued again at the next recovery sweep."
            )
        return f"Running on a worker ({attempt}; last sign of life {silent_s} s ago)."
    return job.message
