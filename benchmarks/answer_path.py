"""CPU and statements per trial page and per stored answer, in one process: ``python benchmarks/answer_path.py``.

The load benchmark (benchmarks/load.py) measures the site behind gunicorn, where the
load generator, PostgreSQL and the workers share the cores and runs vary by about
20 %. This one isolates the work of one trial: it prepares a site on a scratch
PostgreSQL database with production settings (tests/load_site.py, in a child
process), then takes every trial of ``--participants`` participants through Django's
test client as the browser would (the trial page, then the answer with CSRF token,
idempotency key and audio event log, URL-encoded as the page's script sends it) and
measures this process's CPU time for each, the wall time per trial, and how many SQL
statements a page and an answer take (counted with ``CaptureQueriesContext`` on a
first visit of a page and on an answer whose reply carries the next trial; neither
count includes the connection health check's ``SELECT 1``, which runs below Django's
query log). The test client's own work is included.

Prints one JSON object: ``answers``, ``cpu_ms_per_answer``, ``cpu_ms_per_page``,
``wall_ms_per_trial``, ``statements_per_answer``, ``statements_per_page``.
``--quick``: 12 participants of 10 trials.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load import page_audio, run_setup  # noqa: E402  (after the path set-up)
from tests.http_participant import listen_log, new_submission_key  # noqa: E402
from tests.processes import port_open, production_env, scratch_database  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of under a minute")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL_PG", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server where the benchmark may create (and drop) a database",
    )
    parser.add_argument("--participants", type=int, default=60)
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args(argv)
    if args.quick:
        args.participants, args.trials = 12, 10
    if args.participants < 3 or args.trials < 2:
        parser.error("needs at least 3 participants and 2 trials")
    return args


def measure(setup: dict[str, object], trials: int) -> dict[str, float]:
    import django
    import time_machine

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from tqdm import tqdm

    client = Client(enforce_csrf_checks=True, HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="localhost")
    people: list[list[str]] = setup["ready"]  # type: ignore[assignment]
    longest = float(setup["longest_clip_s"])  # type: ignore[arg-type]
    csrf: list[str] = []
    spent = {"page": 0.0, "answer": 0.0}  # CPU seconds

    def timed(kind: str, call: Callable[[], Any]) -> Any:
        cpu = time.process_time()
        reply = call()
        spent[kind] += time.process_time() - cpu
        return reply

    # The server refuses an answer that comes sooner, on its own clock, than the audio takes
    # to play: the clock is moved on by that much instead of waiting for it.
    clock = time_machine.travel(time.time(), tick=True)
    traveller = clock.start()

    def take_trial(
        token: str, position: int, events: str, listened_s: float, counted: list[int] | None = None
    ) -> None:
        """One trial's page and answer; ``counted`` gets the answer's SQL statements."""
        page = timed("page", lambda: client.get(f"/p/{token}/trial/{position}/", secure=True))
        traveller.shift(listened_s)
        if page.status_code != 200:
            raise SystemExit(f"trial page {position}: HTTP {page.status_code}")
        if not csrf:  # (one token serves the whole run: the CSRF cookie stays the same)
            found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
            if found is None:
                raise SystemExit("the trial page has no CSRF token")
            csrf.append(found.group(1))
        # URL-encoded, as the page's script sends it (the test client would otherwise use multipart).
        body = urlencode(
            {
                "csrfmiddlewaretoken": csrf[0],
                "answer": "3",
                "rt_ms": "900.0",
                "submission_key": new_submission_key(),
                "events": events,
            }
        )

        def post() -> Any:
            return client.post(
                f"/p/{token}/trial/{position}/",
                body,
                content_type="application/x-www-form-urlencoded",
                secure=True,
                HTTP_ORIGIN="https://localhost",
                HTTP_X_REQUESTED_WITH="fetch",
            )

        if counted is None:
            reply = timed("answer", post)
        else:
            with CaptureQueriesContext(connection) as queries:
                reply = post()
            counted.append(len(queries.captured_queries))
        if reply.status_code != 200:
            raise SystemExit(f"answer {position}: HTTP {reply.status_code} {reply.content[:300]!r}")

    def take_all(token: str, modality: str, n: int) -> None:
        audio = page_audio(modality, longest)
        events = json.dumps(listen_log(audio))
        for position in range(1, n + 1):
            take_trial(token, position, events, sum(s or 0.0 for s in audio.values()))

    take_all(*people[0], trials)  # warm-up: connection, prepared statements, imports
    token, modality = people[1]
    audio = page_audio(modality, longest)
    events, listened_s = json.dumps(listen_log(audio)), sum(s or 0.0 for s in audio.values())
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/p/{token}/trial/1/", secure=True)
    page_statements = len(queries.captured_queries)  # (read now: the next request clears the log)
    take_trial(token, 1, events, listened_s)
    answer_statements: list[int] = []  # (trial 2's: its reply carries trial 3)
    take_trial(token, 2, events, listened_s, answer_statements)
    for position in range(3, trials + 1):
        take_trial(token, position, events, listened_s)
    measured = people[2:]
    spent.update(page=0.0, answer=0.0)
    wall = time.perf_counter()
    for token, modality in tqdm(measured, desc="trials", unit="participant", file=sys.stderr):
        take_all(token, modality, trials)
    n = len(measured) * trials
    clock.stop()
    return {
        "answers": n,
        "cpu_ms_per_answer": round(1000 * spent["answer"] / n, 2),
        "cpu_ms_per_page": round(1000 * spent["page"] / n, 2),
        "wall_ms_per_trial": round(1000 * (time.perf_counter() - wall) / n, 2),
        "statements_per_answer": answer_statements[0],
        "statements_per_page": page_statements,
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    server = urlparse(args.database_url)
    if not port_open(server.hostname or "127.0.0.1", server.port or 5432):
        print(f"PostgreSQL at {args.database_url} is not reachable", file=sys.stderr)
        return 2
    with (
        scratch_database(args.database_url, prefix="hearxai_answer_path") as database_url,
        tempfile.TemporaryDirectory(prefix="hearxai-answer-path-") as tmp,
    ):
        env = production_env(
            data_dir=Path(tmp) / "data",
            static_root=Path(tmp) / "static",
            database_url=database_url,
            redis_url="",
        )
        env.update(
            {
                "DJANGO_LOG_LEVEL": "WARNING",
                "DJANGO_ALLOWED_HOSTS": "localhost",
                "DJANGO_CSRF_TRUSTED_ORIGINS": "https://localhost",
            }
        )
        setup = run_setup(env, trials=args.trials, ready=args.participants, seed=0)
        os.environ.update(env)
        result = measure(setup, args.trials)
    print(
        json.dumps(
            result | {"participants": args.participants, "trials": args.trials, "quick": args.quick}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
