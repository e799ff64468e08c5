"""Load benchmark: simulated participants against gunicorn + PostgreSQL, and the answers checked after.

Starts the production web process (gunicorn with ``studyapp.gunicorn_conf``, DEBUG
off, behind the headers a TLS proxy adds) on a fresh PostgreSQL database that it
creates and drops, then runs three phases:

1. **ceiling**: ``--clients`` connections post answers as fast as they can to a bare
   Django view that does one INSERT (benchmarks/ceiling_app.py), served the same way;
2. **saturation**: the same number of connections run the per-trial cycle of a
   participant's browser back to back: the answer to the real endpoint (CSRF token,
   idempotency key, audio event log: everything the page sends), whose reply carries the
   next trial, and that trial's media. The server refuses an answer sooner than the
   trial's audio plays, so each connection takes turns among ``--rotation`` participants;
   ``waiting_share`` says how much of the time it still had to wait;
3. **burst**: ``--participants`` people arrive within ``--arrival-s`` seconds and each
   takes the whole study through the pages (entry, consent, instructions, the first
   trial's page, then every trial from the answer's reply as the runner does, media
   fetched once like a browser with a cache, the next trial's preloaded, done) at a
   compressed human pace (``--think-ms`` per trial, at least the trial's audio), each
   from their own address.

Afterwards every answer the server acknowledged is looked up in the database: one
that is missing is *lost*, a second copy (a second response or its audio events
stored twice) is *duplicated*. Prints one JSON object; the keys ``answers_per_s`` and
``p99_ms_answer`` (saturation phase, per-trial cycles), ``ratio_to_ceiling`` (those cycles
against the ceiling), ``p95_ms_next_trial`` and ``p99_ms_next_trial`` (burst: from
"answer submitted" to "next trial ready to play", its media included),
``burst_s_over_think_s`` (the burst's length over what listening and thinking alone
need), ``answers_lost``, ``answers_duplicated`` and ``errors`` (all phases) are its
interface, with latency percentiles per endpoint and per phase. Progress goes to stderr.

``--quick`` (under a minute): 4 s ceiling and saturation windows, 40 participants x
10 trials arriving within 10 s. Needs PostgreSQL (``--database-url``, a server where
it may create a database) and uses Redis for the rate-limit counters if reachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.http_participant import (  # noqa: E402  (after the path set-up)
    LISTEN_MARGIN_S,
    ConnectionProblem,
    HttpClient,
    Pace,
    Participant,
    Reply,
    Walk,
    check_answers,
    forwarded_headers,
    listen_log,
    listening_s,
    new_submission_key,
    trial_media,
)
from tests.processes import (  # noqa: E402
    Process,
    free_port,
    port_open,
    production_env,
    scratch_database,
    start_web,
    worker_pids,
)

HOST = "localhost"
ORIGIN = f"https://{HOST}"
SLUG = "load"  # (tests/load_site.py makes it)
GOAL_RATIO, GOAL_P95_NEXT_MS, GOAL_P99_NEXT_MS, GOAL_OVER_THINK = 0.5, 250.0, 500.0, 1.15
READY_FOR, READY_FOR_QUICK = 1500, 600


def log(message: str) -> None:
    print(f"[load] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- statistics


@dataclass
class Latencies:
    """Request latencies (ms) and statuses per endpoint."""

    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )

    def record(self, endpoint: str, ms: float, status: int) -> None:
        self.samples[endpoint].append(ms)
        self.statuses[endpoint][status] += 1

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            name: percentiles(values) | {"n": len(values), "statuses": dict(self.statuses[name])}
            for name, values in sorted(self.samples.items())
        }


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99)}


# --------------------------------------------------------------------------- the site


def run_setup(env: dict[str, str], *, trials: int, ready: int, seed: int) -> dict[str, object]:
    """Child process (tests/load_site.py): migrate, static files, bundle, study, ``ready`` people at trial 1."""
    out = Path(env["HEARXAI_DATA_DIR"]) / "setup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-m",
        "tests.load_site",
        str(out),
        "--trials",
        str(trials),
        "--ready",
        str(ready),
        "--seed",
        str(seed),
    ]
    # (Its progress bar and any error go to our stderr.)
    done = subprocess.run(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise SystemExit(f"setting up the site failed (exit {done.returncode}, see above)")
    return json.loads(out.read_text())


@contextmanager
def web_server(
    env: dict[str, str], args: argparse.Namespace, logs: Path, *, app: str, name: str
) -> Iterator[tuple[int, Process]]:
    port = free_port()
    extra = ["--threads", str(args.threads)] if args.threads else []
    server: Process = start_web(
        env, port=port, workers=args.workers, logs=logs, name=name, app=app, extra=extra
    )
    try:
        yield port, server
    finally:
        server.stop()


@dataclass
class CpuMeter:
    """CPU seconds used by the web workers, by the database's server processes for our
    database, and by this process (the load generator, which shares the cores).

    Less sensitive to what else runs on a shared machine than throughput: it counts
    the work a request costs, not how long it waited for a core.
    """

    web: Process
    database_url: str

    def read(self) -> dict[str, float]:
        import psycopg

        name = urlparse(self.database_url).path.lstrip("/")
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            backends = [
                r[0]
                for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    [name],
                )
            ]
        return {
            "web": sum(_cpu_s(pid) for pid in worker_pids(self.web)),
            "database": sum(_cpu_s(pid) for pid in backends),
            "load_generator": time.process_time(),
        }


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- phases


@dataclass
class Hammered:
    latencies: Latencies
    answers: int
    problems: list[str]
    cpu_s: dict[str, float]  # CPU seconds spent in the window, by the web and by the database


async def hammer(
    port: int,
    *,
    clients: int,
    warmup_s: float,
    measure_s: float,
    make_request: object,
    meter: CpuMeter,
    prepare: object = None,
) -> Hammered:
    """``clients`` connections send requests back to back; counts only the measured window.

    ``prepare(client, state)``, if given, runs on every connection before the clock starts
    (the saturation phase opens its participants' first trials there, so those page loads
    are not counted as the cost of the per-trial cycle it measures).
    """
    latencies = Latencies()
    done, ran_out, failures = [0], [0], []
    clients_ready = [
        (HttpClient("127.0.0.1", port, headers=forwarded_headers(i, HOST)), {})
        for i in range(clients)
    ]
    if prepare is not None:
        await asyncio.gather(*(prepare(c, state) for c, state in clients_ready))  # type: ignore[operator]
        # The first connections ready sat idle while the rest were prepared: the server may
        # have closed them (keep-alive timeout), so each opens afresh on its first request.
        await asyncio.gather(*(c.close() for c, _ in clients_ready))
    start = time.perf_counter()
    window = (start + warmup_s, start + warmup_s + measure_s)

    async def cpu_at(t: float) -> dict[str, float]:
        await asyncio.sleep(max(0.0, t - time.perf_counter()))
        return await asyncio.to_thread(meter.read)

    async def one(i: int) -> None:
        client, state = clients_ready[i]
        try:
            while (now := time.perf_counter()) < window[1]:
                ok, ms, status = await make_request(client, i, state)  # type: ignore[operator]
                if ok is None:
                    ran_out[0] += 1  # nothing left to send
                    return
                if now >= window[0]:
                    latencies.record("answer", ms, status)
                    done[0] += int(bool(ok))
        except (ConnectionProblem, RuntimeError) as exc:
            failures.append(f"client {i} stopped: {exc}")
        finally:
            await client.close()

    cpu = asyncio.gather(cpu_at(window[0]), cpu_at(window[1]))
    await asyncio.gather(*(one(i) for i in range(clients)))
    before, after = await cpu
    if ran_out[0]:
        failures.append(f"{ran_out[0]} clients ran out of participants before the window ended")
    return Hammered(latencies, done[0], failures, {k: after[k] - before[k] for k in after})


def ceiling_request(events: str) -> object:
    async def send(client: HttpClient, i: int, state: dict[str, object]) -> tuple[bool, float, int]:
        n = int(state.get("n", 0)) + 1
        state["n"] = n
        form = {
            "participant": f"c{i}",
            "position": str(n),
            "answer": "3",
            "submission_key": new_submission_key(),
            "events": events,
            "rt_ms": "900.0",
        }
        started = time.perf_counter()
        try:
            reply = await client.request("POST", "/answer", form=form)
        except ConnectionProblem:
            return False, (time.perf_counter() - started) * 1000, 0
        return reply.status == 200, (time.perf_counter() - started) * 1000, reply.status

    return send


@dataclass
class Ready:
    """Participants waiting at trial 1 for the saturation phase, handed out one at a time."""

    people: list[list[str]]
    trials: int
    longest_s: float
    rotation: int = 8  # participants each connection takes turns among
    waited_s: float = 0.0  # time connections waited for a participant's audio to be over
    acknowledged: dict[str, list[tuple[int, str, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    errors: list[str] = field(default_factory=list)


def saturation_request(ready: Ready) -> object:
    """The per-trial cycle of a participant's browser, back to back: the answer (whose reply
    carries the next trial) and that trial's media.

    The server refuses an answer sooner after its trial was shown than the trial's audio
    plays, so each connection takes turns among ``ready.rotation`` participants: while one
    "listens", the connection answers for the others (it waits only when none is due).
    """
    fill = fill_turns(ready)

    async def send(
        client: HttpClient, i: int, state: dict[str, object]
    ) -> tuple[bool | None, float, int]:
        turns = await fill(client, state)  # type: ignore[operator]
        if not turns:
            return None, 0.0, 0
        person = turns.popleft()
        due = float(person["due"]) - time.perf_counter()  # type: ignore[arg-type]
        if due > 0:
            ready.waited_s += due
            await asyncio.sleep(due)
        token, position = str(person["token"]), int(person["position"])  # type: ignore[arg-type]
        key = new_submission_key()
        form = {
            "csrfmiddlewaretoken": str(state["csrf"]),
            "answer": "3",
            "rt_ms": "900.0",
            "submission_key": key,
            "events": str(person["events"]),
        }
        started = time.perf_counter()
        try:
            reply = await client.request(
                "POST",
                f"/p/{token}/trial/{position}/",
                form=form,
                headers={"Origin": ORIGIN, "X-Requested-With": "fetch"},
            )
            carried = reply.json().get("trial") if reply.status == 200 else None
            for src in trial_media(str(carried["html"])) if isinstance(carried, dict) else []:
                await client.request("GET", src)  # the next trial's media, as its page loads them
        except ConnectionProblem as exc:
            ready.errors.append(str(exc))
            return False, (time.perf_counter() - started) * 1000, 0
        ms = (time.perf_counter() - started) * 1000
        if reply.status != 200:
            ready.errors.append(f"answer {position}: HTTP {reply.status} {reply.body[:200]!r}")
            return False, ms, reply.status
        ready.acknowledged[token].append((position, key, len(json.loads(str(person["events"])))))
        if isinstance(carried, dict):  # a next trial: this participant takes another turn later
            person.update(
                position=position + 1, due=time.perf_counter() + float(person["listen_s"])
            )  # type: ignore[arg-type]
            turns.append(person)
        return True, ms, reply.status

    return send


def fill_turns(ready: Ready) -> object:
    """Open first trials until this connection has ``ready.rotation`` participants to answer for."""

    async def fill(client: HttpClient, state: dict[str, object]) -> deque[dict[str, object]]:
        turns: deque[dict[str, object]] = state.setdefault("turns", deque())  # type: ignore[assignment]
        while len(turns) < ready.rotation and ready.people:
            turns.append(await _admit(client, ready, state))
        return turns

    return fill


async def _admit(client: HttpClient, ready: Ready, state: dict[str, object]) -> dict[str, object]:
    """Open a waiting participant's first trial (it counts as shown from then on)."""
    token, modality = ready.people.pop()
    page = await client.request("GET", f"/p/{token}/trial/1/")
    if "csrf" not in state:  # one page visit gives this connection its CSRF cookie and token
        state["csrf"] = _csrf_field(page)
    events = listen_log(page_audio(modality, ready.longest_s))
    listen_s = listening_s(events) + LISTEN_MARGIN_S
    return {
        "token": token,
        "position": 1,
        "events": json.dumps(events),
        "listen_s": listen_s,
        "due": time.perf_counter() + listen_s,
    }


def page_audio(modality: str, seconds: float) -> dict[str, float | None]:
    """The players on a trial page of the load study's ``modality`` (the "audible" condition
    adds the explanation's), each taken to last ``seconds``: what ``listen_log`` plays."""
    return {"original": seconds, **({"explanation": seconds} if modality == "audible" else {})}


def _csrf_field(page: Reply) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body.decode())
    if match is None:
        raise RuntimeError(
            f"the trial page (HTTP {page.status}) has no CSRF token: {page.body[:300]!r}"
        )
    return match.group(1)


@dataclass
class Burst:
    walks: list[Walk]
    latencies: Latencies
    seconds: float
    cpu_s: float  # CPU seconds this process (the load generator) used meanwhile
    think_s: (
        float  # what listening and thinking alone need: the latest arrival + time on its trials
    )


async def burst(port: int, args: argparse.Namespace) -> Burst:
    """``args.participants`` people arrive within ``args.arrival_s`` and each takes the whole study."""
    rng = random.Random(args.seed)
    arrivals = sorted(rng.uniform(0, args.arrival_s) for _ in range(args.participants))
    latencies = Latencies()
    pace = Pace(think_s=args.think_ms / 1000, fetch_media=not args.no_media)
    finished = [0]
    start, cpu_start = time.perf_counter(), time.process_time()

    async def person(k: int, at: float) -> Walk:
        await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
        # (A browser's fetch() waits minutes for a reply; a short timeout here would only add retries.)
        client = HttpClient(
            "127.0.0.1", port, headers=forwarded_headers(1000 + k, HOST), timeout_s=180
        )
        walker = Participant(
            client,
            slug=SLUG,
            label=f"burst-{k}",
            origin=ORIGIN,
            pace=pace,
            rng=random.Random(args.seed * 100_003 + k),
            timing=latencies.record,
        )
        try:
            return await walker.run()
        finally:
            await client.close()
            finished[0] += 1

    async def progress() -> None:
        while finished[0] < args.participants:
            await asyncio.sleep(5)
            answers = len(latencies.samples.get("answer", []))
            log(
                f"burst: {finished[0]}/{args.participants} participants done, {answers} answers, "
                f"{time.perf_counter() - start:.0f} s"
            )

    reporter = asyncio.create_task(progress())
    walks = await asyncio.gather(*(person(k, at) for k, at in enumerate(arrivals)))
    reporter.cancel()
    think_s = max(
        (at + walk.waited_s for at, walk in zip(arrivals, walks, strict=True)), default=0.0
    )
    return Burst(
        list(walks),
        latencies,
        time.perf_counter() - start,
        time.process_time() - cpu_start,
        think_s,
    )


# --------------------------------------------------------------------------- main


def site_env(
    tmp: Path, database_url: str, redis_url: str, args: argparse.Namespace
) -> dict[str, str]:
    env = production_env(
        data_dir=tmp / "data",
        static_root=tmp / "static",
        database_url=database_url,
        redis_url=redis_url,
    )
    # Access logs off (a line per request is the server's own load); rate limits as deployed.
    env.update(
        {
            "DJANGO_LOG_LEVEL": "WARNING",
            "DJANGO_CSRF_TRUSTED_ORIGINS": ORIGIN,
            "DJANGO_ALLOWED_HOSTS": f"{HOST},127.0.0.1",
        }
    )
    return env


def run_phases(
    env: dict[str, str], database_url: str, args: argparse.Namespace, tmp: Path
) -> dict[str, object]:
    # Enough people at trial 1 for the whole window at up to READY_FOR answers/s (a phase that
    # runs out reports it among its errors).
    ready_for = READY_FOR_QUICK if args.quick else READY_FOR
    ready_n = max(
        args.clients + int((args.warmup_s + args.measure_s) * ready_for / args.trials),
        args.clients * (args.rotation + 1),  # (every connection's turns, and some to spare)
    )
    log(
        f"setting up: migrate, bundle, study of {args.trials} trials, {ready_n} participants at trial 1"
    )
    setup = run_setup(env, trials=args.trials, ready=ready_n, seed=args.seed)
    logs = tmp / "logs"
    logs.mkdir()
    events = json.dumps(listen_log({"original": float(setup["longest_clip_s"])}))  # type: ignore[arg-type]
    import psycopg

    from benchmarks.ceiling_app import CREATE_TABLE

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(CREATE_TABLE)
    log(f"ceiling: {args.clients} clients, {args.measure_s:.0f} s")
    with web_server(
        {**env, "DJANGO_SETTINGS_MODULE": "benchmarks.ceiling_app"},
        args,
        logs,
        app="benchmarks.ceiling_app:application",
        name="ceiling",
    ) as (port, server):
        ceiling = asyncio.run(
            hammer(
                port,
                clients=args.clients,
                warmup_s=args.warmup_s,
                measure_s=args.measure_s,
                make_request=ceiling_request(events),
                meter=CpuMeter(server, database_url),
            )
        )
    ready = Ready(setup["ready"], args.trials, float(setup["longest_clip_s"]), args.rotation)  # type: ignore[arg-type]
    with web_server(env, args, logs, app="studyapp.wsgi:application", name="web") as (port, server):
        log(f"saturation: {args.clients} clients answering back to back, {args.measure_s:.0f} s")
        saturation = asyncio.run(
            hammer(
                port,
                clients=args.clients,
                warmup_s=args.warmup_s,
                measure_s=args.measure_s,
                make_request=saturation_request(ready),
                meter=CpuMeter(server, database_url),
                prepare=fill_turns(ready),
            )
        )
        saturation.problems += ready.errors
        crowd = Burst([], Latencies(), 0.0, 0.0, 0.0)
        if args.participants:
            log(
                f"burst: {args.participants} participants x {args.trials} trials arriving within {args.arrival_s:.0f} s"
            )
            crowd = asyncio.run(burst(port, args))
    acknowledged: dict[str, list[tuple[int, str, int]]] = defaultdict(list, ready.acknowledged)
    for walk in crowd.walks:
        acknowledged[walk.token] += walk.acknowledged
    check = check_answers(database_url, acknowledged)
    return {
        "ceiling": ceiling,
        "saturation": saturation,
        "burst": crowd,
        "ready": ready,
        "check": check,
        "redis": bool(env["REDIS_URL"]),
    }


def phase_summary(run: Hammered, seconds: float) -> dict[str, object]:
    """Rate, latency percentiles and CPU cost per request of one hammering phase."""
    per = max(run.answers, 1)
    return {
        "answers_per_s": round(run.answers / seconds, 1),
        **percentiles(run.latencies.samples.get("answer", [])),
        "answers": run.answers,
        "cpu_ms_per_answer": {k: round(1000 * v / per, 2) for k, v in run.cpu_s.items()},
        "errors": run.problems[:5],
    }


def report(
    results: dict[str, object], args: argparse.Namespace, seconds: float
) -> dict[str, object]:
    ceiling: Hammered = results["ceiling"]  # type: ignore[assignment]
    saturation: Hammered = results["saturation"]  # type: ignore[assignment]
    crowd: Burst = results["burst"]  # type: ignore[assignment]
    ready: Ready = results["ready"]  # type: ignore[assignment]
    walks, burst_lat, burst_s, burst_cpu_s = (
        crowd.walks,
        crowd.latencies,
        crowd.seconds,
        crowd.cpu_s,
    )
    check: dict[str, int] = results["check"]  # type: ignore[assignment]
    next_trial = percentiles(burst_lat.samples.get("next_trial", []))
    over_think = round(burst_s / crowd.think_s, 3) if crowd.think_s else 0.0
    top, ours = phase_summary(ceiling, args.measure_s), phase_summary(saturation, args.measure_s)
    ratio = ours["answers_per_s"] / top["answers_per_s"] if top["answers_per_s"] else 0.0  # type: ignore[operator]
    server = ("web", "database")  # (the server's work; the load generator's is reported beside it)
    cpu_top = sum(top["cpu_ms_per_answer"][k] for k in server)  # type: ignore[index]
    cpu_ours = sum(ours["cpu_ms_per_answer"][k] for k in server)  # type: ignore[index]
    burst_errors = [e for w in walks for e in w.errors]
    completed = sum(w.completed for w in walks)
    burst_answers = sum(len(w.acknowledged) for w in walks)
    return {
        "answers_per_s": ours["answers_per_s"],
        "p99_ms_answer": ours["p99_ms"],
        # (Saturation: per-trial cycles, the answer with the next trial and its media, against
        # the bare one-INSERT ceiling.)
        "ratio_to_ceiling": round(ratio, 3),
        "p95_ms_next_trial": next_trial["p95_ms"],
        "p99_ms_next_trial": next_trial["p99_ms"],
        "burst_s_over_think_s": over_think,
        "answers_lost": check["answers_lost"],
        "answers_duplicated": check["answers_duplicated"],
        "errors": len(saturation.problems) + len(burst_errors) + len(ceiling.problems),
        "cpu_ratio_to_ceiling": round(cpu_top / cpu_ours, 3) if cpu_ours else 0.0,
        "ceiling": top,
        "saturation": {
            "clients": args.clients,
            "seconds": args.measure_s,
            "rotation": args.rotation,
            # Share of the connections' time spent waiting for a participant's audio to be over.
            "waiting_share": round(
                ready.waited_s / (args.clients * (args.warmup_s + args.measure_s)), 3
            ),
            **ours,
        },
        "burst": {
            "participants": args.participants,
            "arrival_s": args.arrival_s,
            "trials": args.trials,
            "think_ms": args.think_ms,
            "media": not args.no_media,
            "completed": completed,
            "answers": burst_answers,
            "seconds": round(burst_s, 1),
            "think_s": round(crowd.think_s, 1),
            "answers_per_s": round(burst_answers / burst_s, 1) if burst_s else 0.0,
            # (Share of all the machine's cores: the web workers recycle during a burst,
            # so their CPU cannot be summed from the processes alive at its end.)
            "load_generator_cpu_share": round(burst_cpu_s / (burst_s * (os.cpu_count() or 1)), 3)
            if burst_s
            else 0.0,
            "retries": sum(w.retries for w in walks),
            "errors": burst_errors[:5],
            "endpoints": burst_lat.summary(),
        },
        "database_check": check,
        "goals": {
            "burst_nothing_lost": check["answers_lost"] == 0
            and check["answers_duplicated"] == 0
            and completed == args.participants,
            "half_the_ceiling": ratio >= GOAL_RATIO,
            "next_trial_p95_under_250_ms": 0 < next_trial["p95_ms"] < GOAL_P95_NEXT_MS,
            "next_trial_p99_under_500_ms": 0 < next_trial["p99_ms"] < GOAL_P99_NEXT_MS,
            "burst_within_1_15_of_think": 0 < over_think <= GOAL_OVER_THINK,
        },
        "settings": {
            "workers": args.workers,
            "threads": args.threads or "gunicorn_conf default",
            "clients": args.clients,
            "seed": args.seed,
            "quick": args.quick,
            "rate_limit_counters": "redis" if results["redis"] else "process memory",
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        },
        "seconds": round(seconds, 1),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of under a minute")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL_PG", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server where a scratch database may be created",
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/13",
        help="Redis for the rate-limit counters (used if reachable; '' for none)",
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="gunicorn threads per worker (0: the configuration's)",
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument(
        "--rotation",
        type=int,
        default=8,
        help="saturation: participants each connection takes turns among while each listens",
    )
    parser.add_argument("--warmup-s", type=float, default=3.0)
    parser.add_argument("--measure-s", type=float, default=20.0)
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--arrival-s", type=float, default=60.0)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument(
        "--think-ms",
        type=float,
        default=3000.0,
        help="time on each trial page before answering (people take 10-20 s)",
    )
    parser.add_argument(
        "--no-media", action="store_true", help="do not download each trial's audio and images"
    )
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup_s, args.measure_s, args.participants, args.arrival_s, args.trials = (
            1.0,
            4.0,
            40,
            10.0,
            10,
        )
        args.think_ms = min(args.think_ms, 300.0)
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # Ctrl-C or a kill stops at once, through the clean-up: servers stopped, database dropped.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    admin = urlparse(args.database_url)
    if not port_open(admin.hostname or "127.0.0.1", admin.port or 5432):
        print(f"PostgreSQL at {args.database_url} is not reachable", file=sys.stderr)
        return 2
    redis = urlparse(args.redis_url) if args.redis_url else None
    redis_url = (
        args.redis_url
        if redis and port_open(redis.hostname or "127.0.0.1", redis.port or 6379)
        else ""
    )
    started = time.perf_counter()
    with (
        scratch_database(args.database_url, prefix="hearxai_load") as database_url,
        tempfile.TemporaryDirectory(prefix="hearxai-load-") as tmp,
    ):
        env = site_env(Path(tmp), database_url, redis_url, args)
        results = run_phases(env, database_url, args, Path(tmp))
    print(json.dumps(report(results, args, time.perf_counter() - started)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
