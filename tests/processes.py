"""Starting, watching and stopping the production processes as plain subprocesses.

Shared by the deployment tests (tests/deploy), the fault tests (tests/reliability) and
the load benchmark (benchmarks/load.py): free ports, a production environment, HTTP
requests without redirects, /proc inspection of process trees, gunicorn started with
the production configuration, a scratch database on a PostgreSQL server, and private
PostgreSQL and Redis servers that a test may stop and restart without disturbing the
shared ones other test runs use.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to the end in a fresh event loop on a thread of its own.

    ``asyncio.run`` refuses to start where a loop is already running, and Playwright's
    sync API keeps one running in the main thread for as long as a browser fixture
    lives (the browser tests share one per session), so tests after them would fail.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-async") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(
    *, data_dir: Path, static_root: Path, database_url: str, redis_url: str
) -> dict[str, str]:
    """The environment a deployment sets (.env.example), on top of a scrubbed copy of ours."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "HEARXAI_", "CELERY_"))
        and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    return inherited | {
        "DJANGO_SETTINGS_MODULE": "studyapp.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://127.0.0.1",
        "DJANGO_LOG_LEVEL": "INFO",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HEARXAI_DATA_DIR": str(data_dir),
        "HEARXAI_STATIC_ROOT": str(static_root),
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class Process:
    """A subprocess in its own session, its stdout and stderr in files."""

    name: str
    popen: subprocess.Popen
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM the process group (graceful shutdown), then SIGKILL what is left."""
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)


def start(name: str, args: list[str], *, env: dict[str, str], logs: Path) -> Process:
    """Run ``python args...`` (this interpreter) as :class:`Process` ``name``."""
    return start_command(name, [sys.executable, *args], env=env, logs=logs)


def start_command(name: str, argv: list[str], *, env: dict[str, str], logs: Path) -> Process:
    """Run any program in its own session, output to ``logs/<name>.out`` and ``.err`` (appended)."""
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    with out.open("ab") as stdout, err.open("ab") as stderr:
        popen = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Process(name, popen, out, err)


def wait_until(
    condition: Callable[[], bool], *, timeout_s: float, what: str, process: Process | None = None
) -> None:
    """Poll ``condition``; fail with the process's output if it dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if process is not None and process.popen.poll() is not None:
            raise AssertionError(
                f"{process.name} exited ({process.popen.returncode}) before {what}:\n{process.output()[-3000:]}"
            )
        if time.monotonic() > deadline:
            tail = process.output()[-3000:] if process else ""
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{tail}")
        time.sleep(0.2)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def http_get(url: str, headers: dict[str, str] | None = None, timeout_s: float = 10.0) -> Reply:
    """GET without following redirects; HTTP errors are replies, not exceptions."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout_s) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, dict(exc.headers), exc.read())


def answers(url: str) -> bool:
    try:
        return http_get(url, timeout_s=2).status == 200
    except OSError:
        return False


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, from the parent ids in /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, queue = [], [root]
    while queue:
        pid = queue.pop()
        tree.append(pid)
        queue.extend(children.get(pid, []))
    return tree


def maps_torch(pid: int) -> bool:
    """True if the process has torch's native library mapped (it imported torch)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False
    return "libtorch" in maps


# --------------------------------------------------------------------------- web server


def start_web(
    env: dict[str, str],
    *,
    port: int,
    workers: int,
    logs: Path,
    name: str = "web",
    app: str = "studyapp.wsgi:application",
    extra: list[str] | None = None,
    timeout_s: float = 90.0,
) -> Process:
    """gunicorn with the production configuration (studyapp.gunicorn_conf), once every worker is up.

    ``app`` may name another WSGI application served by the same set-up (the load
    benchmark's ceiling); ``extra`` adds gunicorn options (``--threads 2``).
    """
    web = start(
        name,
        [
            "-m",
            "gunicorn",
            "-c",
            "python:studyapp.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            *(extra or []),
            app,
        ],
        env=env,
        logs=logs,
    )
    try:
        wait_until(
            lambda: web.output().count("ready without torch") >= workers,
            timeout_s=timeout_s,
            what=f"{workers} gunicorn workers to boot",
            process=web,
        )
    except BaseException:
        web.stop()
        raise
    return web


def worker_pids(web: Process) -> list[int]:
    """The gunicorn workers (children of the arbiter) running now."""
    return [pid for pid in process_tree(web.popen.pid) if pid != web.popen.pid]


# --------------------------------------------------------------------------- PostgreSQL


def database_url_with(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead."""
    return urlparse(url)._replace(path=f"/{name}").geturl()


@contextmanager
def scratch_database(admin_url: str, prefix: str = "hearxai_test") -> Iterator[str]:
    """A new, empty database on the server of ``admin_url`` (its URL), dropped afterwards."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url_with(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_bindir() -> Path | None:
    """Where initdb, pg_ctl and postgres live (``pg_config --bindir``, else Debian's layout)."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        found = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False
        )
        candidates.append(Path(found.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return next(
        (c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None
    )


def _server_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as the ``postgres`` user (via runuser)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    return "postgres" if shutil.which("runuser") else None


def private_postgres_problem() -> str | None:
    """Why a private PostgreSQL server cannot be started here (None if it can)."""
    if postgres_bindir() is None:
        return "PostgreSQL server programs (initdb, pg_ctl; Debian package postgresql)"
    if os.geteuid() == 0 and _server_user() is None:
        return "a non-root 'postgres' user and runuser to start PostgreSQL as root"
    return None


@dataclass
class PrivatePostgres:
    """A PostgreSQL server of our own in a temporary folder, on a free port, trust auth.

    Tests stop and restart it to see how the site behaves; the shared server on 5432
    is never touched. Only TCP on 127.0.0.1 (no Unix socket), fsync off (a test server).
    """

    root: Path
    port: int
    bindir: Path
    user: str | None

    @classmethod
    def create(cls) -> PrivatePostgres:
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError(private_postgres_problem() or "no PostgreSQL")
        user = _server_user()
        # Its own folder under the system temporary directory: a test's tmp_path is
        # readable by root only, and the server may run as another user.
        root = Path(tempfile.mkdtemp(prefix="hearxai-pg-"))
        if user:
            shutil.chown(root, user)
        server = cls(root, free_port(), bindir, user)
        server._run(
            "initdb",
            "-D",
            str(server.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        return server

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def admin_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str, timeout_s: float = 60.0) -> None:
        argv = [str(self.bindir / program), *args]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_s, check=False, cwd=self.root
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr[-2000:]}{self.log_tail()}"
            )

    def log_tail(self) -> str:
        log = self.root / "server.log"
        return "\n" + log.read_text(errors="replace")[-2000:] if log.is_file() else ""

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off -c max_connections=100"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions and disconnect everyone)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return port_open("127.0.0.1", self.port)

    def remove(self) -> None:
        """Stop it if running and delete its folder."""
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except RuntimeError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running :class:`PrivatePostgres`, removed afterwards."""
    server = PrivatePostgres.create()
    try:
        server.start()
        yield server
    finally:
        server.remove()


# --------------------------------------------------------------------------- Redis


@dataclass
class PrivateRedis:
    """A Redis server of our own on a free port, without persistence, that a test may stop."""

    port: int
    logs: Path
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        self.process = start_command("redis", argv, env=dict(os.environ), logs=self.logs)
        wait_until(
            lambda: port_open("127.0.0.1", self.port),
            timeout_s=20,
            what="the private Redis",
            process=self.process,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout_s=10)
            self.process = None


@contextmanager
def private_redis(logs: Path) -> Iterator[PrivateRedis]:
    """A running :class:`PrivateRedis`, stopped afterwards."""
    server = PrivateRedis(free_port(), logs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
