"""Celery app of the explainer: explanation jobs on the ``explain`` queue. No Django.

    celery -A explainer.celery_app worker -Q explain [--concurrency N]

Configuration comes from the environment:

``REDIS_URL``
    Broker and result backend (default ``redis://127.0.0.1:6379/0``).
``HEARXAI_EXPLAIN_WORKER_CONCURRENCY``
    Processes per worker (default: the CPUs this process may run on).

Every worker process computes with one torch thread: torch's results depend, in the
last bits, on its thread count, and bundles must not depend on the machine that
rendered them. Parallelism comes from processes, so concurrency = cores.

Tasks acknowledge late and are retried with a growing, jittered delay, also when
their worker process dies (killed, out of memory): a chunk is only off the queue once
its result is stored. The tasks themselves are in :mod:`explainer.distributed.worker`.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

from celery import Celery
from celery.signals import worker_init, worker_process_init

from explainer.errors import UserError

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "explain"
# Imported once in the worker's main process, so every forked child starts warm.
PRELOAD = (
    "torch",
    "zennit",
    "explainer.rendering",
    "explainer.relevance",
    "explainer.training",
    "explainer.distributed.worker",
)


class ConfigurationError(UserError):
    """An environment variable with a value the explainer's workers cannot use."""


def redis_url(raw: str | None = None, *, name: str = "REDIS_URL") -> str:
    """``raw`` (named ``name`` in errors), else ``REDIS_URL``, checked: a ``redis://`` or ``rediss://`` URL."""
    if raw is None:
        raw, name = os.environ.get("REDIS_URL", "") or DEFAULT_REDIS_URL, "REDIS_URL"
    parsed = urlparse(raw)
    if parsed.scheme not in {"redis", "rediss"} or not parsed.hostname:
        raise ConfigurationError(
            f"{name}={raw!r} is not a redis:// URL (e.g. redis://127.0.0.1:6379/0)"
        )
    return raw


def worker_concurrency() -> int:
    """``HEARXAI_EXPLAIN_WORKER_CONCURRENCY``, else the CPUs this process may use."""
    raw = os.environ.get("HEARXAI_EXPLAIN_WORKER_CONCURRENCY", "").strip()
    if not raw:
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1)
        )
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(
            f"HEARXAI_EXPLAIN_WORKER_CONCURRENCY={raw!r} is not a positive integer"
        )
    return int(raw)


def configuration(url: str) -> dict[str, Any]:
    """Celery settings of the explainer's app, with broker and results at ``url``."""
    return {
        "broker_url": url,
        "result_backend": url,
        "task_default_queue": DEFAULT_QUEUE,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # A chunk leaves the queue only once it is done; a worker that dies mid-chunk
        # (killed, out of memory) gives it back, counted as one of its retries.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_retry_on_worker_lost": True,
        "task_track_started": True,
        # One chunk at a time per process: a slow machine does not sit on queued chunks.
        "worker_prefetch_multiplier": 1,
        "worker_concurrency": worker_concurrency(),
        "result_expires": 7 * 24 * 3600,
        "broker_connection_retry_on_startup": True,
        "include": ["explainer.distributed.worker"],
    }


app = Celery("explainer")
# Read when the configuration is first needed (a worker starting), not on import: the
# coordinator imports this module for the task's name and brings its own --broker.
app.add_defaults(lambda: configuration(redis_url()))


@worker_init.connect
def preload_modules(**kwargs: Any) -> None:
    """Import torch and the rendering modules before the pool forks (no threads started here)."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)


@worker_process_init.connect
def use_one_torch_thread(**kwargs: Any) -> None:
    """Every pool process computes with one torch thread (see the module docstring)."""
    import torch

    from explainer.rendering import RENDER_THREADS

    torch.set_num_threads(RENDER_THREADS)
