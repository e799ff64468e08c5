"""CPU and statements per stored answer, in one process: ``python benchmarks/answer_path.py``.

The load benchmark (benchmarks/load.py) measures the answer endpoint behind gunicorn,
where the load generator, PostgreSQL and the workers share the cores and runs vary by
about 20 %. This one isolates the work of storing an answer: it prepares a site on a
scratch PostgreSQL database with production settings (tests/load_site.py, in a child
process), then posts every trial of ``--participants`` participants through Django's
test client (CSRF token, idempotency key and audio event log, as the page sends them)
and measures this process's CPU time per answer, the wall time, and how many SQL
statements one answer takes (counted on two answers with ``CaptureQueriesContext``).
The test client's own work is included in both times.

Prints one JSON object: ``answers``, ``cpu_ms_per_answer``, ``wall_ms_per_answer``,
``statements_per_answer``. ``--quick``: 12 participants of 10 trials.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load import page_audio, run_setup  # noqa: E402  (after the path set-up)
from tests.http_participant import listen_log, new_submission_key  # noqa: E402
from tests.processes import port_open, production_env, scratch_database  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of under a minute")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL_PG", "postgres://postgres@127.0.0.1:5432/postgres"),
                        help="a PostgreSQL server where the benchmark may create (and drop) a database")
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

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from tqdm import tqdm

    client = Client(enforce_csrf_checks=True, HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="localhost")
    people: list[list[str]] = setup["ready"]  # type: ignore[assignment]
    page = client.get(f"/p/{people[0][0]}/trial/1/", secure=True).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if csrf is None:
        raise SystemExit("the trial page has no CSRF token")
    longest = float(setup["longest_clip_s"])  # type: ignore[arg-type]

    def answer_all(token: str, modality: str, n: int) -> None:
        events = json.dumps(listen_log(page_audio(modality, longest)))
        for position in range(1, n + 1):
            reply = client.post(f"/p/{token}/trial/{position}/", {
                "csrfmiddlewaretoken": csrf.group(1), "answer": "3", "rt_ms": "900.0",
                "submission_key": new_submission_key(), "events": events,
            }, secure=True, HTTP_ORIGIN="https://localhost", HTTP_X_REQUESTED_WITH="fetch")
            if reply.status_code != 200:
                raise SystemExit(f"answer {position}: HTTP {reply.status_code} {reply.content[:300]!r}")

    answer_all(*people[0], trials)  # warm-up: connection, prepared statements, imports
    with CaptureQueriesContext(connection) as queries:
        answer_all(*people[1], 2)
    statements = len(queries.captured_queries) / 2  # (read now: the next request clears the log)
    measured = people[2:]
    wall, cpu = time.perf_counter(), time.process_time()
    for token, modality in tqdm(measured, desc="answering", unit="participant", file=sys.stderr):
        answer_all(token, modality, trials)
    n = len(measured) * trials
    return {"answers": n, "cpu_ms_per_answer": round(1000 * (time.process_time() - cpu) / n, 2),
            "wall_ms_per_answer": round(1000 * (time.perf_counter() - wall) / n, 2),
            "statements_per_answer": statements}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    server = urlparse(args.database_url)
    if not port_open(server.hostname or "127.0.0.1", server.port or 5432):
        print(f"PostgreSQL at {args.database_url} is not reachable", file=sys.stderr)
        return 2
    with scratch_database(args.database_url, prefix="hearxai_answer_path") as database_url, \
            tempfile.TemporaryDirectory(prefix="hearxai-answer-path-") as tmp:
        env = production_env(data_dir=Path(tmp) / "data", static_root=Path(tmp) / "static",
                             database_url=database_url, redis_url="")
        env.update({"DJANGO_LOG_LEVEL": "WARNING", "DJANGO_ALLOWED_HOSTS": "localhost",
                    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://localhost"})
        setup = run_setup(env, trials=args.trials, ready=args.participants, seed=0)
        os.environ.update(env)
        result = measure(setup, args.trials)
    print(json.dumps(result | {"participants": args.participants, "trials": args.trials, "quick": args.quick}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
