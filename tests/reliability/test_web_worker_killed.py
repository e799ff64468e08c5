"""A gunicorn worker killed (SIGKILL) in the middle of participants' answers loses nothing.

Every answer the server acknowledged is in the database exactly once, and the
participants whose connection died send their answer again (same idempotency key,
as the pages do) and carry on to the end of the study.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from tests.http_participant import Participant, check_answers
from tests.processes import worker_pids
from tests.reliability.conftest import TRIALS, Stack, acknowledged, until, walk_everyone

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
PARTICIPANTS = 9


def _answers(walkers: list[Participant]) -> int:
    return sum(len(w.walk.acknowledged) for w in walkers)


def test_killing_web_workers_mid_run_loses_and_duplicates_no_answer(stack: Stack) -> None:
    original = worker_pids(stack.web)
    killed: list[int] = []

    async def kill_each_worker(walkers: list[Participant]) -> None:
        # Every worker that was serving when the participants connected, one after another
        # while answers are flowing, so each participant's keep-alive connection dies once.
        for victim, share in zip(original, (0.15, 0.35, 0.55), strict=True):
            await until(lambda: _answers(walkers) >= share * PARTICIPANTS * TRIALS, timeout_s=60)  # noqa: B023
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            await asyncio.sleep(0.3)

    assert len(original) == 3
    walks = walk_everyone(stack, PARTICIPANTS, first=100, during=kill_each_worker)

    assert [w.errors for w in walks if w.errors] == []
    assert all(w.completed for w in walks)
    assert len(killed) == 3 and sum(w.retries for w in walks) > 0, "the kills interrupted nobody"
    check = check_answers(stack.database_url, acknowledged(walks))
    assert check["acknowledged"] == PARTICIPANTS * TRIALS
    assert (check["answers_lost"], check["answers_duplicated"]) == (0, 0)
    assert 500 not in stack.statuses
    # The arbiter replaced every worker it lost.
    assert stack.web.popen.poll() is None
    alive = worker_pids(stack.web)
    assert len(alive) >= 3 and not set(alive) & set(killed)
