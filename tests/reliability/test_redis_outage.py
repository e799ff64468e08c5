"""Redis stopped: participants keep taking studies, background jobs wait and complete when it returns.

Nothing on the participant path needs the broker (the rate-limit counters fall back to
each web process's memory); a researcher can still ask for an export, the admin says
it is waiting for the task queue, and once Redis is back the workers' recovery sweep
sends it and a worker runs it.
"""

from __future__ import annotations

import re
import time

import psycopg
import pytest

from tests.http_participant import HttpClient, Reply, check_answers
from tests.processes import run_async, wait_until
from tests.reliability.conftest import ORIGIN, STAFF, TRIALS, Stack, acknowledged, walk_everyone

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _answers_stored(stack: Stack) -> int:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute("SELECT count(*) FROM studyapp_response").fetchone()[0]


class StaffBrowser:
    """A researcher in the admin, over HTTP: logs in, submits the admin's forms with their CSRF token."""

    def __init__(self, stack: Stack) -> None:
        self.client: HttpClient = stack.client(9000)

    def get(self, path: str) -> Reply:
        return run_async(self._request("GET", path))

    def post_form(self, path: str, data: dict[str, str]) -> Reply:
        """Open the page at ``path`` and post its form with ``data``."""
        page = self.get(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body.decode())
        assert page.status == 200 and token, (page.status, page.body[:300])
        return run_async(
            self._request("POST", path, {"csrfmiddlewaretoken": token.group(1), **data})
        )

    async def _request(self, method: str, path: str, form: dict[str, str] | None = None) -> Reply:
        try:
            return await self.client.request(method, path, form=form, headers={"Origin": ORIGIN})
        finally:
            await self.client.close()  # each call runs in its own event loop

    def log_in(self) -> None:
        reply = self.post_form(
            "/admin/login/", {"username": STAFF[0], "password": STAFF[1], "next": "/admin/"}
        )
        assert reply.status == 302 and reply.headers["location"] == "/admin/", reply.body[:500]


def test_participants_finish_and_an_export_waits_for_redis_then_completes(stack: Stack) -> None:
    staff = StaffBrowser(stack)
    staff.log_in()
    stack.redis.stop()

    walks = walk_everyone(stack, 6, first=200)
    assert [w.errors for w in walks if w.errors] == [] and all(w.completed for w in walks)
    check = check_answers(stack.database_url, acknowledged(walks))
    assert (check["acknowledged"], check["answers_lost"], check["answers_duplicated"]) == (
        6 * TRIALS,
        0,
        0,
    )
    assert not {429, 500, 503} & set(stack.statuses)
    assert "rate limits counted in process memory" in stack.web.output()

    queued = staff.post_form(f"/admin/studyapp/study/{stack.study_id}/export/", {})
    assert queued.status == 302, queued.body[:500]
    job_page = queued.headers["location"]
    waiting = staff.get(job_page).body.decode()
    assert "queued" in waiting and "Waiting for the task queue (Redis)" in waiting
    time.sleep(2)  # a sweep or two while Redis is still down changes nothing
    assert "Waiting for the task queue (Redis)" in staff.get(job_page).body.decode()

    stack.redis.start()
    wait_until(
        lambda: "succeeded" in staff.get(job_page).body.decode(),
        timeout_s=45,
        what="the export to run once Redis is back",
        process=stack.worker,
    )
    finished = staff.get(job_page).body.decode()
    assert (
        f"{_answers_stored(stack)} trials, " in finished
    )  # every answer, this test's and earlier ones'
    download = re.search(r'href="(/research/exports/[^"]+/download/)"', finished)
    assert download is not None
    archive = staff.get(download.group(1))
    assert archive.status == 200 and archive.body[:2] == b"PK"
