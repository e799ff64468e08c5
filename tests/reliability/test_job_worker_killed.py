"""A Celery worker killed hard (SIGKILL) in the middle of a job: the job is run again and completes.

The export is held mid-run by a table lock this test takes (as a slow query would
hold it), the whole worker is killed, and a new worker is started. The dead worker's
heartbeat stops, its lease runs out, the recovery sweep (beat, in the new worker) queues the job
again and the new worker runs it to the end, leaving no half-written files.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psycopg
import pytest

from tests.processes import wait_until
from tests.reliability.conftest import Stack, walk_everyone
from tests.reliability.test_redis_outage import StaffBrowser

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _job(database_url: str, job_id: int) -> tuple[str, int, str]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT status, attempts, message FROM studyapp_exportjob WHERE id = %s", [job_id]
        ).fetchone()


def test_an_export_whose_worker_is_killed_is_run_again_by_another_worker(stack: Stack) -> None:
    walks = walk_everyone(stack, 2, first=400)
    assert all(w.completed for w in walks)
    staff = StaffBrowser(stack)
    staff.log_in()
    with psycopg.connect(stack.database_url) as blocker:
        # Reads of the answers wait for this lock: the export stays running until it is released.
        blocker.execute("LOCK TABLE studyapp_response IN ACCESS EXCLUSIVE MODE")
        queued = staff.post_form(f"/admin/studyapp/study/{stack.study_id}/export/", {})
        job_page = queued.headers["location"]
        job_id = int(job_page.rstrip("/").split("/")[-2])
        wait_until(
            lambda: _job(stack.database_url, job_id)[:2] == ("running", 1),
            timeout_s=30,
            what="the first worker to start the export",
            process=stack.worker,
        )
        os.killpg(
            stack.worker.popen.pid, signal.SIGKILL
        )  # the worker and its pool process, no goodbye
        stack.worker.popen.wait(timeout=10)
        assert "Running on a worker (attempt 1 of 3" in staff.get(job_page).body.decode()
        wait_until(
            lambda: "presumed stopped" in staff.get(job_page).body.decode(),
            timeout_s=20,
            what="the admin to notice the silent worker",
        )
        stack.start_worker()
        wait_until(
            lambda: _job(stack.database_url, job_id)[:2] == ("running", 2),
            timeout_s=30,
            what="the new worker to take the job over",
            process=stack.worker,
        )
        blocker.rollback()  # the slow query ends
    wait_until(
        lambda: _job(stack.database_url, job_id)[0] == "succeeded",
        timeout_s=30,
        what="the export to finish",
        process=stack.worker,
    )
    assert "run_export_job" in stack.worker.output() and "re-queued export" in stack.worker.output()
    page = staff.get(job_page).body.decode()
    assert "succeeded" in page and "2 participants" in page
    exports = Path(stack.env["HEARXAI_DATA_DIR"]) / "exports"
    assert [p.name for p in exports.iterdir() if not p.name.endswith(".zip")] == []
