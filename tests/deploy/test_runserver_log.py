"""The development server's access log masks participant tokens, as the project's logger does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.processes import answers, free_port, http_get, start, wait_until


def test_runserver_access_log_masks_participant_tokens(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env |= {
        "HEARXAI_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "studyapp.settings",
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, check=True)
    port = free_port()
    server = start(
        "runserver",
        ["manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
        env=env,
        logs=tmp_path,
    )
    try:
        wait_until(
            lambda: answers(f"http://127.0.0.1:{port}/healthz"),
            timeout_s=60,
            what="runserver to answer",
            process=server,
        )
        token = "SeCrEtToKeN0123456789abcdef"
        assert http_get(f"http://127.0.0.1:{port}/p/{token}/consent/").status == 404
        wait_until(lambda: "/consent/" in server.output(), timeout_s=10, what="the access log line")
    finally:
        server.stop()
    log = server.output()
    assert "/p/<token>/consent/" in log
    assert token not in log
