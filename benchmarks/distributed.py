"""Distributed bundles: stimuli per second with 1, 2 and 4 local Celery workers, and the queue's overhead.

Trains a throw-away run (as benchmarks/bundle.py), plans one bundle, writes it in this
process (``write_bundle``: the single-process baseline) and then through the path of
``python -m explainer bundle-distributed`` with 1, 2 and 4 local worker processes
(``celery -A explainer.celery_app worker --concurrency 1`` each; worker *i* consumes
the queues of every configuration with more than *i* workers, so all four start once).
After a warm-up run each, the configurations run in turn for ``--repeats`` rounds; the
fastest run of each counts (the machine is shared; the fastest run is the one least
disturbed), and the overhead is the median over rounds of the paired difference. Needs Redis (``--redis-url``, a
database of its own; queue names are unique per run).

Prints ONE JSON object: ``stimuli_per_s`` keyed by the number of workers (wall clock,
end to end after planning: rendering, manifest, validation), ``queue_overhead_share`` =
(one worker - one process) / one worker in CPU seconds of every process involved (the
coordinator and the workers), i.e. the share of a one-worker run's work that a single
process does not do; ``queue_overhead_share_wall`` is the same in wall seconds, which
other people's processes on a shared machine disturb far more. Also: the single-process
baseline, the overhead per chunk, speed-ups, and whether every bundle was
byte-identical to the single-process one.

    python benchmarks/distributed.py [--quick] [--n 150] [--width 1.0] [--chunk-size 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bundle import DEMO_CORPUS, train_run  # noqa: E402  (after the path set-up)
from tests.processes import Process, port_open, process_tree, start, wait_until  # noqa: E402

WORKER_COUNTS = (1, 2, 4)


def corpus(work: Path, quick: bool) -> Path:
    """The committed demo corpus, or a synthesised one (needs espeak-ng; small for --quick)."""
    if DEMO_CORPUS.is_dir():
        return DEMO_CORPUS
    import contextlib

    from explainer.cli import main as explainer_main

    out = work / "corpus"
    speakers, takes = ("6", "1") if quick else ("12", "2")
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the JSON result
        if (
            explainer_main(["corpus", "--out", str(out), "--speakers", speakers, "--takes", takes])
            != 0
        ):
            raise SystemExit("no fixtures/demo_corpus and could not synthesise one")
    return out


def start_workers(redis_url: str, queues: dict[int, str], logs: Path) -> list[Process]:
    """Start worker processes 0..3 (not waiting for them); worker *i* consumes the queue of every
    configuration with more than *i* workers."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REDIS_URL", "CELERY_", "HEARXAI_"))
    }
    env |= {"REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
    workers = []
    for i in range(max(queues)):
        consumed = ",".join(queue for n, queue in queues.items() if n > i)
        workers.append(
            start(
                f"worker{i}",
                [
                    "-m",
                    "celery",
                    "-A",
                    "explainer.celery_app",
                    "worker",
                    "-Q",
                    consumed,
                    "-n",
                    f"bench{i}-{secrets.token_hex(3)}@%h",
                    "--concurrency",
                    "1",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel",
                    "INFO",
                ],
                env=env,
                logs=logs,
            )
        )
    return workers


def stop_workers(workers: list[Process]) -> None:
    import signal

    for worker in workers:  # all at once: a shutdown takes a few seconds each
        if worker.popen.poll() is None:
            os.killpg(worker.popen.pid, signal.SIGTERM)
    for worker in workers:
        worker.stop()


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def cpu_seconds(roots: list[int]) -> float:
    """User + system CPU seconds so far of the processes ``roots`` and their descendants (Linux /proc)."""
    total = 0
    for root in roots:
        for pid in process_tree(root):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # it ended while we looked
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def timed(run: Callable[[], Any], worker_pids: list[int]) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds (this process plus every worker, busy or idle) and ``run()``'s result."""
    wall, cpu, workers = time.perf_counter(), time.process_time(), cpu_seconds(worker_pids)
    result = run()
    return (
        time.perf_counter() - wall,
        time.process_time() - cpu + cpu_seconds(worker_pids) - workers,
        result,
    )


def measure(
    spec: dict[str, Any],
    work: Path,
    client: Any,
    queues: dict[int, str],
    repeats: int,
    worker_pids: list[int],
) -> dict[str, Any]:
    """Warm everything up, then time, round after round: one process, 1, 2 and 4 workers.

    Alternating keeps slow drifts of the machine's load out of the comparison: the
    overhead is the median over rounds of (one worker - one process) / one worker, in
    CPU seconds (which other people's processes disturb far less) and in wall seconds.
    """
    from explainer import bundle as eb
    from explainer.distributed import render_distributed

    def distributed(k: int, out: Path) -> dict[str, Any]:
        return render_distributed(
            spec,
            out,
            client=client,
            work_root=work / "chunks",
            queue=queues[k],
            stall_timeout_s=300,
            poll_s=0.05,
        )

    # Untimed first runs: this process and every worker load the run and cache the plain
    # images (one run on all four workers: each gets a chunk or more).
    eb.write_bundle(spec, work / "warm-single")
    distributed(max(queues), work / "warm-workers")
    rounds: list[dict[Any, tuple[float, float, Any]]] = []
    for attempt in range(repeats):
        runs = {
            "single": timed(
                lambda out=work / f"single-{attempt}": eb.write_bundle(spec, out), worker_pids
            )
        }
        runs |= {
            k: timed(lambda k=k, out=work / f"{k}-{attempt}": distributed(k, out), worker_pids)
            for k in queues
        }
        rounds.append(runs)
    reference = tree(work / "single-0")
    return {
        "single_s": min(r["single"][0] for r in rounds),
        "walls": {k: min(r[k][0] for r in rounds) for k in queues},
        "results": {k: rounds[-1][k][2] for k in queues},
        "identical": {
            k: all(tree(work / f"{k}-{i}") == reference for i in range(repeats)) for k in queues
        },
        "overhead_cpu": [(r[1][1] - r["single"][1], r[1][1]) for r in rounds],
        "overhead_wall": [(r[1][0] - r["single"][0], r[1][0]) for r in rounds],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a check run of under a minute (fewer stimuli, eighth width)",
    )
    parser.add_argument(
        "--n", type=int, default=None, help="decisions in the bundle (default 150; quick 24)"
    )
    parser.add_argument(
        "--width",
        type=float,
        default=None,
        help="AudioNet width (default 1.0, the paper's; quick 0.125)",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="stimuli per chunk (default 8; quick 4)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs per configuration (default 2; quick 1)",
    )
    parser.add_argument("--method", default="lrp-epsilon-plus-flat", help="explanation method")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/11", help="Redis for broker and results"
    )
    args = parser.parse_args()
    n, width = args.n or (24 if args.quick else 150), args.width or (0.125 if args.quick else 1.0)
    chunk_size, repeats = (
        args.chunk_size or (4 if args.quick else 8),
        args.repeats or (1 if args.quick else 2),
    )
    parsed = urlparse(args.redis_url)
    if not port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379):
        raise SystemExit(f"no Redis at {args.redis_url} (--redis-url)")

    from explainer import bundle as eb
    from explainer.distributed import make_client
    from explainer.selection import Design

    token = secrets.token_hex(4)
    queues = {k: f"bench-{token}-{k}" for k in WORKER_COUNTS}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="hearxai-bench-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        started = time.perf_counter()
        workers = start_workers(
            args.redis_url, queues, work / "logs"
        )  # they boot while the run trains
        try:
            data = corpus(work, args.quick)
            run = train_run(data, work, width)
            wait_until(
                lambda: all(" ready." in w.output() for w in workers),
                timeout_s=180,
                what="the workers",
            )
            workers_ready_s = time.perf_counter() - started
            design = Design(
                n_decisions=n, methods=(args.method,), split="all", incorrect_fraction=0.0
            )
            spec = eb.plan_bundle(run, data, design, seed=0, chunk_size=chunk_size)
            measured = measure(
                spec,
                work,
                make_client(args.redis_url),
                queues,
                repeats,
                [w.popen.pid for w in workers],
            )
        finally:
            stop_workers(workers)
            forget_queues(args.redis_url, token)
            shutil.rmtree(work / "logs", ignore_errors=True)
    result = report(spec, measured, workers_ready_s, load_before, args, width, chunk_size, repeats)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def forget_queues(redis_url: str, token: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"*{token}*"):
        client.delete(key)


def report(
    spec: dict[str, Any],
    measured: dict[str, Any],
    workers_ready_s: float,
    load_before: tuple[float, float, float],
    args: argparse.Namespace,
    width: float,
    chunk_size: int,
    repeats: int,
) -> dict[str, Any]:
    n_stimuli, n_chunks = len(spec["stimuli"]), len(spec["chunks"])
    walls, results = measured["walls"], measured["results"]
    cpu_pairs, wall_pairs = measured["overhead_cpu"], measured["overhead_wall"]
    return {
        "stimuli_per_s": {str(k): round(n_stimuli / wall, 2) for k, wall in walls.items()},
        # CPU seconds: (one worker - one process) / one worker, median over rounds.
        "queue_overhead_share": round(median(extra / total for extra, total in cpu_pairs), 3),
        "queue_overhead_share_wall": round(median(extra / total for extra, total in wall_pairs), 3),
        "single_process_stimuli_per_s": round(n_stimuli / measured["single_s"], 2),
        "overhead_ms_per_chunk": {
            "cpu": round(1000 * median(extra for extra, _ in cpu_pairs) / n_chunks, 1),
            "wall": round(1000 * median(extra for extra, _ in wall_pairs) / n_chunks, 1),
        },
        "speedup_vs_1_worker": {str(k): round(walls[1] / wall, 3) for k, wall in walls.items()},
        "identical_to_single_process": {str(k): same for k, same in measured["identical"].items()},
        "chunks_rendered_by": {str(k): result["rendered_by"] for k, result in results.items()},
        # CPU seconds per stimulus inside chunks: about equal for every worker count means the
        # workers add no work of their own, so missing speed-up is cores taken by others.
        "chunk_cpu_s_per_stimulus": {
            str(k): round(result["timings"]["cpu"] / n_stimuli, 4) for k, result in results.items()
        },
        "wall_s": {
            "single_process": round(measured["single_s"], 3),
            **{f"{k}_workers": round(wall, 3) for k, wall in walls.items()},
            "workers_ready": round(workers_ready_s, 1),
        },
        "settings": {
            "stimuli": n_stimuli,
            "chunks": n_chunks,
            "chunk_size": chunk_size,
            "method": args.method,
            "width": width,
            "architecture": "audionet",
            "repeats": repeats,
            "quick": args.quick,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_1min_before": round(load_before[0], 2),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        },
    }


if __name__ == "__main__":
    sys.exit(main())
