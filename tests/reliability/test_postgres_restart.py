"""PostgreSQL restarted while participants answer: requests fail cleanly, then everything recovers.

While the database is down the site answers 503 with ``Retry-After`` (never a 500 or
a traceback), every write is one transaction so nothing is half-stored, and the
participants' pages send again until the database is back and carry on.
"""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from tests.http_participant import Participant, check_answers
from tests.processes import http_get
from tests.reliability.conftest import TRIALS, VIA_PROXY, Stack, acknowledged, until, walk_everyone

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
PARTICIPANTS = 8


def _half_written(database_url: str, study_id: int) -> dict[str, int]:
    """Traces of a write that stopped half-way: a session without all its trials, events without an answer."""
    with psycopg.connect(database_url) as conn:
        short = conn.execute(
            "SELECT count(*) FROM studyapp_participant p WHERE p.study_id = %s AND "
            "(SELECT count(*) FROM studyapp_trial t WHERE t.participant_id = p.id) <> %s",
            [study_id, TRIALS],
        ).fetchone()[0]
        orphans = conn.execute(
            "SELECT count(*) FROM studyapp_audioevent e LEFT JOIN studyapp_response r ON r.trial_id = e.trial_id "
            "WHERE r.id IS NULL"
        ).fetchone()[0]
        unfinished = conn.execute(
            "SELECT count(*) FROM studyapp_participant p WHERE p.study_id = %s AND p.status = 'completed' AND "
            "(SELECT count(*) FROM studyapp_trial t JOIN studyapp_response r ON r.trial_id = t.id "
            " WHERE t.participant_id = p.id) <> %s",
            [study_id, TRIALS],
        ).fetchone()[0]
    return {
        "sessions_missing_trials": short,
        "events_without_answer": orphans,
        "completed_but_unanswered": unfinished,
    }


def test_a_database_restart_mid_run_fails_requests_cleanly_and_everyone_finishes(
    stack: Stack,
) -> None:
    health_while_down: list[int] = []

    async def restart_database(walkers: list[Participant]) -> None:
        await until(
            lambda: sum(len(w.walk.acknowledged) for w in walkers) >= PARTICIPANTS * TRIALS // 4,
            timeout_s=60,
        )
        await asyncio.to_thread(stack.postgres.stop, "fast")
        await asyncio.sleep(1.0)  # participants keep sending meanwhile
        reply = await asyncio.to_thread(
            http_get, f"http://127.0.0.1:{stack.port}/healthz", VIA_PROXY
        )
        health_while_down.append(reply.status)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(stack.postgres.start)

    walks = walk_everyone(stack, PARTICIPANTS, first=300, during=restart_database)

    assert health_while_down == [503]
    assert [w.errors for w in walks if w.errors] == []
    assert all(w.completed for w in walks)
    assert stack.statuses.get(503, 0) > 0, "no request met the outage"
    assert 500 not in stack.statuses
    check = check_answers(stack.database_url, acknowledged(walks))
    assert (check["acknowledged"], check["answers_lost"], check["answers_duplicated"]) == (
        PARTICIPANTS * TRIALS,
        0,
        0,
    )
    assert _half_written(stack.database_url, stack.study_id) == {
        "sessions_missing_trials": 0,
        "events_without_answer": 0,
        "completed_but_unanswered": 0,
    }
