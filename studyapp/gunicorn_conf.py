"""Gunicorn settings for the production web process (see docs/deploying.md).

Run as ``gunicorn -c python:studyapp.gunicorn_conf studyapp.wsgi:application``; the
command line may override any value here (``--bind``, ``--workers``). Tunables come
from the environment and are documented in ``.env.example``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from studyapp.env import env_int, env_str
from studyapp.log_format import logging_config

# Modules a web process must never load: the web image does not ship them, and a
# shared development virtualenv would otherwise hide an accidental import.
FORBIDDEN_MODULES = ("torch", "torchvision", "zennit")


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


bind = "0.0.0.0:8000"
# gthread: a participant on a slow connection downloading audio holds a thread, not a process.
worker_class = "gthread"
workers = env_int("HEARXAI_WEB_WORKERS", min(2 * _cpu_count() + 1, 8))
threads = env_int("HEARXAI_WEB_THREADS", 4)
timeout = 60
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak can never take the site down mid-study.
# Not too often: starting a worker (Django, the URL conf, every view) costs about a
# second of CPU, which at 2,000 requests was a tenth of the machine under load.
max_requests = 10_000
max_requests_jitter = 1_000
# No runtime control socket: nothing here uses gunicornc, and its default path in $HOME
# would collide between two servers on one machine (gunicorn >= 25.1; older ones ignore it).
control_socket_disable = True
if os.path.isdir("/dev/shm"):
    # Heartbeat files on a container's overlay filesystem can stall workers.
    worker_tmp_dir = "/dev/shm"

# Path without the query string: entry links carry recruitment ids (PROLIFIC_PID ...).
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
_gunicorn_loggers = {
    name: {"handlers": ["console"], "level": "INFO", "propagate": False}
    for name in ("gunicorn.error", "gunicorn.access")
}
logconfig_dict = logging_config(
    fmt=env_str("DJANGO_LOG_FORMAT", "json"),
    level=env_str("DJANGO_LOG_LEVEL", "WARNING"),
    loggers=_gunicorn_loggers,
)


def forbidden_modules_loaded(modules: dict[str, Any] | None = None) -> list[str]:
    """Names from :data:`FORBIDDEN_MODULES` present in ``modules`` (default ``sys.modules``)."""
    loaded = sys.modules if modules is None else modules
    return [name for name in FORBIDDEN_MODULES if name in loaded]


def post_worker_init(worker: Any) -> None:
    """Load every view once, then refuse to serve if that pulled in torch.

    Gunicorn calls this after the worker has loaded the WSGI application. Exiting
    with ``WORKER_BOOT_ERROR`` makes the arbiter halt the whole server with a
    message, instead of serving from a process that broke the package boundary.
    """
    from django.urls import get_resolver
    from gunicorn.arbiter import Arbiter

    get_resolver().url_patterns  # noqa: B018 - imports every view module now, not on first request
    loaded = forbidden_modules_loaded()
    if loaded:
        worker.log.critical(
            "web worker %s loaded %s; the web side must not import them", worker.pid, loaded
        )
        sys.exit(Arbiter.WORKER_BOOT_ERROR)
    problem = static_files_problem()
    if problem:
        worker.log.critical("web worker %s: %s", worker.pid, problem)
        sys.exit(Arbiter.WORKER_BOOT_ERROR)
    worker.log.info("web worker %s ready without %s", worker.pid, ", ".join(FORBIDDEN_MODULES))


def static_files_problem() -> str:
    """Why production cannot serve its static files (empty if it can).

    With DEBUG off, whitenoise's manifest storage resolves every ``{% static %}`` through
    ``staticfiles.json``; without it each page, the error pages too, fails with a 500.
    """
    from django.conf import settings

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if settings.DEBUG or manifest.is_file():
        return ""
    return (
        f"static files are not collected ({manifest} is missing): run "
        "`python manage.py collectstatic --noinput` before starting the server"
    )
