"""One production stack for the fault tests, on servers of their own that they may break.

A private PostgreSQL and a private Redis (tests/processes.py: the shared servers other
test runs use are never stopped), the web process as deployed (gunicorn with
``studyapp.gunicorn_conf``, DEBUG off, behind the headers of a TLS proxy) and a Celery
worker for web jobs, with short job leases so that recovery happens within seconds.
Each test leaves the servers running again; the ``stack`` fixture checks that they are.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import need
from tests.http_participant import HttpClient, Pace, Participant, Walk, forwarded_headers
from tests.processes import (
    REPO,
    PrivatePostgres,
    PrivateRedis,
    Process,
    free_port,
    http_get,
    private_postgres_problem,
    production_env,
    run_async,
    start,
    start_web,
    wait_until,
)

HOST = "localhost"
ORIGIN = f"https://{HOST}"
TRIALS = 8
WEB_WORKERS = 3
STAFF = ("researcher", "a-long-test-password-" + secrets.token_hex(4))
# Retry quickly: a test's participants should not sit out the pages' 1-15 s waits.
FAST = Pace(think_s=0.05, retry_waits_s=(0.1, 0.2, 0.4, 0.8), max_attempts=80)


@dataclass
class Stack:
    tmp: Path
    env: dict[str, str]
    postgres: PrivatePostgres
    redis: PrivateRedis
    web: Process
    port: int
    study_id: int
    slug: str
    logs: Path
    worker: Process | None = None
    statuses: dict[int, int] = field(default_factory=dict)  # every reply status participants met

    @property
    def database_url(self) -> str:
        return self.postgres.admin_url

    def start_worker(self) -> Process:
        """A Celery worker for web jobs (its own node name, so a restarted one is a new node).

        Beat runs inside it (``-B``), standing in for compose's scheduler service: there is
        one worker at a time here, so one scheduler, and the recovery sweep stops and
        starts with the worker as the tests kill and restart it.
        """
        self.worker = start(
            "worker",
            [
                "-m",
                "celery",
                "-A",
                "studyapp",
                "worker",
                "-Q",
                "web",
                "--concurrency",
                "1",
                "-n",
                f"faults-{secrets.token_hex(3)}@%h",
                "-B",
                "--schedule",
                str(self.tmp / "celerybeat-schedule"),
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
            ],
            env=self.env,
            logs=self.logs,
        )
        wait_until(
            lambda: " ready." in self.worker.output(),
            timeout_s=60,
            what="the Celery worker",  # type: ignore[union-attr]
            process=self.worker,
        )
        return self.worker

    def client(self, number: int) -> HttpClient:
        return HttpClient(
            "127.0.0.1", self.port, headers=forwarded_headers(number, HOST), timeout_s=20
        )

    def healthy(self) -> None:
        """Every server up and the site answering (a test that broke one restarts it)."""
        if not self.postgres.running():
            self.postgres.start()
        if self.redis.process is None:
            self.redis.start()
        wait_until(
            lambda: answers(f"http://127.0.0.1:{self.port}/healthz", VIA_PROXY),
            timeout_s=30,
            what="the site's health check",
            process=self.web,
        )


VIA_PROXY = {"X-Forwarded-Proto": "https", "Host": HOST}


def answers(url: str, headers: dict[str, str]) -> bool:
    try:
        return http_get(url, headers=headers, timeout_s=3).status == 200
    except OSError:
        return False


def _setup_site(env: dict[str, str], tmp: Path) -> dict[str, object]:
    out = tmp / "data" / "site.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.load_site",
            str(out),
            "--trials",
            str(TRIALS),
            "--staff",
            ":".join(STAFF),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="package")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    need(private_postgres_problem() is None, private_postgres_problem() or "")
    need(shutil.which("redis-server") is not None, "redis-server (Debian package redis-server)")
    tmp = tmp_path_factory.mktemp("faults")
    logs = tmp / "logs"
    logs.mkdir()
    postgres = PrivatePostgres.create()
    redis = PrivateRedis(free_port(), logs)
    built: Stack | None = None
    try:
        postgres.start()
        redis.start()
        env = production_env(
            data_dir=tmp / "data",
            static_root=tmp / "static",
            database_url=postgres.admin_url,
            redis_url=redis.url,
        )
        env.update(
            {
                "DJANGO_CSRF_TRUSTED_ORIGINS": ORIGIN,
                "HEARXAI_JOB_HEARTBEAT_S": "1",
                "HEARXAI_JOB_LEASE_S": "4",
                "HEARXAI_JOB_SWEEP_S": "1",
                "DJANGO_LOG_LEVEL": "WARNING",
            }
        )
        site = _setup_site(env, tmp)
        port = free_port()
        built = Stack(
            tmp,
            env,
            postgres,
            redis,
            start_web(env, port=port, workers=WEB_WORKERS, logs=logs),
            port,
            int(site["study_id"]),
            str(site["slug"]),
            logs,
        )  # type: ignore[arg-type]
        built.start_worker()
        yield built
    finally:
        if built is not None:
            built.web.stop()
            if built.worker is not None:
                built.worker.stop()
        redis.stop()
        postgres.remove()


@pytest.fixture
def stack(servers: Stack) -> Stack:
    """The shared stack, every server running, the record of reply statuses empty."""
    servers.healthy()
    servers.statuses.clear()
    return servers


def walk_everyone(
    stack: Stack, n: int, *, first: int = 0, pace: Pace = FAST, during: object = None
) -> list[Walk]:
    """``n`` participants take the study at once; ``during(walkers)`` (a coroutine) runs alongside."""

    async def main() -> list[Walk]:
        clients = [stack.client(first + k) for k in range(n)]
        walkers = [
            Participant(
                c,
                slug=stack.slug,
                label=f"p{first + k}-{secrets.token_hex(3)}",
                origin=ORIGIN,
                pace=pace,
                rng=random.Random(first + k),
                timing=_statuses(stack),
            )
            for k, c in enumerate(clients)
        ]
        runs = [asyncio.create_task(w.run()) for w in walkers]
        if during is not None:
            await during(walkers)  # type: ignore[operator]
        walks = await asyncio.gather(*runs)
        for client in clients:
            await client.close()
        return list(walks)

    return run_async(main())


def _statuses(stack: Stack) -> object:
    def record(endpoint: str, ms: float, status: int) -> None:
        stack.statuses[status] = stack.statuses.get(status, 0) + 1

    return record


async def until(condition: object, timeout_s: float = 30.0) -> None:
    """Wait (asynchronously) until ``condition()`` is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s")
        await asyncio.sleep(0.05)


def acknowledged(walks: list[Walk]) -> dict[str, list[tuple[int, str, int]]]:
    return {w.token: w.acknowledged for w in walks}
