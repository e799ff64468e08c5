"""Starting, watching and stopping the production processes as plain subprocesses.

Helpers for tests/deploy/test_production_processes.py: free ports, a production
environment, HTTP requests without redirects, and /proc inspection of process trees.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(*, data_dir: Path, static_root: Path, database_url: str, redis_url: str) -> dict[str, str]:
    """The environment a deployment sets (.env.example), on top of a scrubbed copy of ours."""
    inherited = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "HEARXAI_", "CELERY_")) and key not in {"DATABASE_URL", "REDIS_URL"}
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
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        popen = subprocess.Popen(
            [sys.executable, *args], cwd=REPO, env=env, stdout=stdout, stderr=stderr,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    return Process(name, popen, out, err)


def wait_until(condition: Callable[[], bool], *, timeout_s: float, what: str, process: Process | None = None) -> None:
    """Poll ``condition``; fail with the process's output if it dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if process is not None and process.popen.poll() is not None:
            raise AssertionError(f"{process.name} exited ({process.popen.returncode}) before {what}:\n{process.output()[-3000:]}")
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
