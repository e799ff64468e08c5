"""The production stack of docker-compose.yml, run as plain processes on this machine.

Docker cannot run here, so the module starts what the containers would run, with the
same commands and environment variables: migrate and collectstatic, gunicorn with the
production configuration and several workers, a Celery worker for web jobs and Celery
beat (the scheduler service) sending it the recovery sweep, against
a fresh database on the real PostgreSQL and the real Redis. Then it checks what a
deployment relies on: health, HTTPS behaviour behind a proxy, static files through
whitenoise, the deploy checklist, an import job travelling through Redis to the worker,
JSON logs with tokens masked, and that no web-side process ever loads torch.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

from contracts.bundle_format import read_manifest
from tests.conftest import need, port_open
from tests.processes import (
    REPO,
    Process,
    answers,
    free_port,
    http_get,
    maps_torch,
    process_tree,
    production_env,
    scratch_database,
    start,
    wait_until,
)
from tests.synthetic_bundle import write_synthetic_bundle

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

POSTGRES_ADMIN_URL = os.environ.get("DATABASE_URL_PG", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = "redis://127.0.0.1:6379/14"
WEB_WORKERS = 3
# What the TLS proxy in front of the site adds to every request it forwards.
VIA_PROXY = {"X-Forwarded-Proto": "https", "Host": "localhost"}


def table_counts(database_url: str) -> dict[str, int]:
    """Rows per table of the public schema."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        tables = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        return {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in sorted(tables)
        }


@dataclass
class Stack:
    base_url: str
    env: dict[str, str]
    static_root: Path
    tmp: Path
    web: Process
    worker: Process
    scheduler: Process


def manage(
    env: dict[str, str], *args: str, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture(scope="module")
def fresh_database() -> Iterator[str]:
    admin = urlparse(POSTGRES_ADMIN_URL)
    need(
        port_open(admin.hostname or "127.0.0.1", admin.port or 5432), "PostgreSQL at 127.0.0.1:5432"
    )
    need(port_open("127.0.0.1", 6379), "Redis at 127.0.0.1:6379")
    with scratch_database(POSTGRES_ADMIN_URL, prefix="hearxai_deploy_test") as url:
        yield url


@pytest.fixture(scope="module")
def stack(fresh_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("deploy")
    logs = tmp / "logs"
    logs.mkdir()
    env = production_env(
        data_dir=tmp / "data",
        static_root=tmp / "static",
        database_url=fresh_database,
        redis_url=REDIS_URL,
    )
    env["HEARXAI_JOB_SWEEP_S"] = "2"  # (a test need not wait the deployed 15 s for a sweep)
    port = free_port()
    # The worker boots while the one-shot steps run, as in compose.
    worker = start(
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
            f"deploytest-{secrets.token_hex(3)}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        env=env,
        logs=logs,
    )
    scheduler = start(
        "scheduler",
        ["-m", "celery", "-A", "studyapp", "beat", "--schedule", str(tmp / "celerybeat-schedule")],
        env=env,
        logs=logs,
    )
    web = None
    try:
        for step in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            done = manage(env, *step)
            assert done.returncode == 0, f"manage.py {step[0]} failed:\n{done.stderr[-3000:]}"
        web = start(
            "web",
            [
                "-m",
                "gunicorn",
                "-c",
                "python:studyapp.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(WEB_WORKERS),
                "studyapp.wsgi:application",
            ],
            env=env,
            logs=logs,
        )
        base_url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: web.output().count("ready without torch") == WEB_WORKERS,
            timeout_s=60,
            what="every gunicorn worker to boot",
            process=web,
        )
        wait_until(
            lambda: answers(f"{base_url}/healthz"), timeout_s=20, what="/healthz", process=web
        )
        wait_until(
            lambda: " ready." in worker.output(),
            timeout_s=60,
            what="the Celery worker",
            process=worker,
        )
        yield Stack(base_url, env, tmp / "static", tmp, web, worker, scheduler)
    finally:
        for process in (web, worker, scheduler):
            if process is not None:
                process.stop()


def test_the_web_answers_its_health_check_and_the_container_probe_agrees(stack: Stack) -> None:
    reply = http_get(f"{stack.base_url}/healthz")
    assert reply.status == 200 and json.loads(reply.body) == {"status": "ok"}
    probe = [sys.executable, "-m", "studyapp.healthcheck"]
    ok = subprocess.run(
        [*probe, f"{stack.base_url}/healthz"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    closed = subprocess.run(
        [*probe, f"http://127.0.0.1:{free_port()}/healthz"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert closed.returncode == 1
    assert closed.stderr.startswith("unhealthy: ") and closed.stderr.count("\n") == 1


def test_plain_http_is_sent_to_https_and_requests_from_the_proxy_are_served(stack: Stack) -> None:
    direct = http_get(f"{stack.base_url}/", headers={"Host": "localhost"})
    assert direct.status == 301
    assert direct.headers["Location"].startswith("https://localhost/")
    proxied = http_get(f"{stack.base_url}/", headers=VIA_PROXY)
    assert proxied.status == 200
    assert "max-age=" in proxied.headers["Strict-Transport-Security"]
    unknown_host = http_get(f"{stack.base_url}/", headers={**VIA_PROXY, "Host": "evil.example"})
    assert unknown_host.status == 400


def test_static_files_are_served_by_whitenoise_under_hashed_names(stack: Stack) -> None:
    manifest = json.loads((stack.static_root / "staticfiles.json").read_text())
    hashed = manifest["paths"]["studyapp/style.css"]
    assert hashed != "studyapp/style.css"
    reply = http_get(f"{stack.base_url}/static/{hashed}", headers=VIA_PROXY)
    assert reply.status == 200
    assert reply.body == (stack.static_root / hashed).read_bytes()
    # Hashed names never change content, so whitenoise lets browsers cache them forever.
    assert "immutable" in reply.headers["Cache-Control"]
    assert (
        http_get(f"{stack.base_url}/static/studyapp/missing.css", headers=VIA_PROXY).status == 404
    )


def test_the_deploy_checklist_passes_and_catches_plain_http(stack: Stack) -> None:
    passed = manage(stack.env, "check", "--deploy", "--fail-level", "WARNING")
    assert passed.returncode == 0, passed.stderr
    without_redirect = manage(
        {**stack.env, "DJANGO_SECURE_SSL_REDIRECT": "0"},
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert without_redirect.returncode != 0
    assert "security.W008" in without_redirect.stderr


def test_an_import_job_queued_through_redis_is_completed_by_the_worker(stack: Stack) -> None:
    bundle_dir = write_synthetic_bundle(stack.tmp / "bundle", n=12)
    queued = subprocess.run(
        [sys.executable, "-m", "tests.deploy.queue_import", str(bundle_dir)],
        cwd=REPO,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert queued.returncode == 0, queued.stderr
    job = json.loads(queued.stdout)
    assert job["broker"] == REDIS_URL
    assert (job["status"], job["problems"]) == ("succeeded", [])
    assert job["message"].startswith("imported 12 stimuli")
    assert "studyapp.tasks.run_import_job" in stack.worker.output()
    # The worker stored the media; the web process serves them from the same storage.
    audio = read_manifest(bundle_dir)["stimuli"][0]["files"]["original_audio"]
    reply = http_get(f"{stack.base_url}/m/{audio['sha256']}.wav", headers=VIA_PROXY)
    assert reply.status == 200
    assert reply.body == (bundle_dir / audio["path"]).read_bytes()


def test_the_scheduler_has_the_worker_run_the_recovery_sweep(stack: Stack) -> None:
    wait_until(
        lambda: (
            "studyapp.tasks.sweep_jobs" in stack.worker.output()
            and "succeeded" in stack.worker.output().split("studyapp.tasks.sweep_jobs", 1)[1]
        ),
        timeout_s=30,
        what="a recovery sweep sent by beat and run by the worker",
        process=stack.scheduler,
    )


def test_the_documented_backup_restores_into_an_empty_database(
    stack: Stack, tmp_path: Path
) -> None:
    need(
        shutil.which("pg_dump") is not None and shutil.which("pg_restore") is not None,
        "pg_dump and pg_restore (Debian package postgresql-client)",
    )
    source = stack.env["DATABASE_URL"]
    dump = tmp_path / "hearxai.dump"
    # The same flags as docs/deploying.md, without the `docker compose exec` around them.
    with dump.open("wb") as out:
        subprocess.run(
            ["pg_dump", "--format=custom", "--dbname", source], stdout=out, check=True, timeout=60
        )
    with scratch_database(POSTGRES_ADMIN_URL, prefix="hearxai_deploy_test") as target:
        with dump.open("rb") as dump_in:
            subprocess.run(
                ["pg_restore", "--clean", "--if-exists", "--no-owner", "--dbname", target],
                stdin=dump_in,
                check=True,
                timeout=60,
            )
        restored = table_counts(target)
        assert restored == table_counts(source)
        assert restored["django_migrations"] > 0
        unapplied = manage({**stack.env, "DATABASE_URL": target}, "migrate", "--check")
        assert unapplied.returncode == 0, unapplied.stdout + unapplied.stderr


def test_logs_are_json_lines_with_participant_tokens_masked(stack: Stack) -> None:
    secret = "tok" + secrets.token_hex(12)
    assert http_get(f"{stack.base_url}/p/{secret}/consent/", headers=VIA_PROXY).status == 404
    wait_until(
        lambda: "/p/<token>/consent/" in stack.web.stdout.read_text(),
        timeout_s=10,
        what="the access log line",
        process=stack.web,
    )
    lines = stack.web.stdout.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert {"time", "level", "logger", "message"} <= set(records[-1])
    assert {"gunicorn.access", "gunicorn.error"} <= {r["logger"] for r in records}
    assert secret not in stack.web.output()


def test_no_web_or_worker_process_loads_torch(stack: Stack) -> None:
    web_processes = process_tree(stack.web.popen.pid)
    worker_processes = process_tree(stack.worker.popen.pid)
    assert len(web_processes) == 1 + WEB_WORKERS
    assert len(worker_processes) >= 2  # the worker and its pool process
    others = process_tree(stack.scheduler.popen.pid)
    assert [pid for pid in web_processes + worker_processes + others if maps_torch(pid)] == []


@pytest.fixture
def torch_available() -> None:
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed here, so no process can load it")


def test_the_torch_check_sees_a_process_that_has_imported_torch(
    torch_available: None, tmp_path: Path
) -> None:
    loader = start(
        "loader",
        ["-c", "import sys, torch; print('loaded', flush=True); sys.stdin.read()"],
        env=dict(os.environ),
        logs=tmp_path,
    )
    try:
        wait_until(
            lambda: "loaded" in loader.output(),
            timeout_s=60,
            what="torch to import",
            process=loader,
        )
        assert maps_torch(loader.popen.pid)
    finally:
        loader.stop()


def _gunicorn_refused(tmp_path: Path, name: str, app: str) -> list[str]:
    """Start gunicorn on ``app`` without collected static files; the CRITICAL messages it halts with."""
    env = production_env(
        data_dir=tmp_path / "data",
        static_root=tmp_path / "static-never-collected",
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        redis_url="",
    )
    server = start(
        name,
        [
            "-m",
            "gunicorn",
            "-c",
            "python:studyapp.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{free_port()}",
            "--workers",
            "1",
            app,
        ],
        env=env,
        logs=tmp_path,
    )
    try:
        server.popen.wait(timeout=90)
    finally:
        server.stop()
    assert server.popen.returncode == 3  # gunicorn's "worker failed to boot": the server halts
    lines = server.stdout.read_text().splitlines()
    return [json.loads(line)["message"] for line in lines if '"CRITICAL"' in line]


def test_the_gunicorn_configuration_refuses_a_worker_that_loaded_torch(
    torch_available: None, tmp_path: Path
) -> None:
    critical = _gunicorn_refused(tmp_path, "torch-web", "tests.deploy.torch_app:application")
    assert any("must not import" in m and "torch" in m for m in critical)


def test_a_production_start_without_collected_static_files_fails_naming_the_command(
    tmp_path: Path,
) -> None:
    critical = _gunicorn_refused(tmp_path, "web-without-static", "studyapp.wsgi:application")
    assert any(
        "static files are not collected" in m and "python manage.py collectstatic --noinput" in m
        for m in critical
    )
