"""Bundles rendered by real Celery workers (``celery -A explainer.celery_app worker``) through the real Redis.

Two workers start once for the module: A (one process) consumes the queues ``one``
and ``both``; B, started with the compose file's worker-explain command and
environment (one process per CPU), only ``both``. A run sent to ``one`` has one worker,
a run sent to ``both`` has two. They use a private Redis database and queue names of their own, and
run through :mod:`tests.explainer.faulty_celery`, which adds test-only fault markers.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from explainer import bundle as eb
from explainer import distributed as dist
from explainer.cli import main
from explainer.distributed import coordinator
from explainer.errors import UserError
from explainer.selection import Design
from tests.conftest import need, port_open
from tests.explainer import faulty_celery
from tests.explainer.conftest import DEMO_CORPUS, REPO
from tests.processes import Process, free_port, start, wait_until

REDIS_URL = "redis://127.0.0.1:6379/12"  # a database of its own: other tests use 13-15
FAULTY_CELERY = faulty_celery.__name__  # ``celery``, with the test-only fault markers
TOKEN = secrets.token_hex(4)
QUEUE_ONE, QUEUE_BOTH = f"explain-test-{TOKEN}-one", f"explain-test-{TOKEN}-both"
METHODS = ("lrp-epsilon-plus-flat", "gradient")
N_DECISIONS, SEED, CHUNK_SIZE = 8, 7, 3


@dataclass
class Workers:
    a: Process
    b: Process

    def output(self) -> str:
        return self.a.output() + self.b.output()


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def fault(work_root: Path, spec: dict[str, Any], chunk: int, kind: str) -> None:
    """Leave a marker that makes the next attempt at ``chunk`` fail once (see ``faulty_celery.inject_fault``)."""
    faults = faulty_celery.faults_folder(dist.WorkFolder(work_root / dist.plan_digest(spec)[:16]))
    faults.mkdir(parents=True, exist_ok=True)
    (faults / f"{chunk}.{kind}").touch()


@pytest.fixture(scope="module")
def run_and_corpus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The session's trained run on the demo corpus; without the demo corpus, a synthesised one."""
    if DEMO_CORPUS.is_dir():
        return request.getfixturevalue("trained_run"), DEMO_CORPUS
    need(
        shutil.which("espeak-ng") is not None,
        "espeak-ng (fixtures/demo_corpus is missing, so a corpus is synthesised)",
    )
    root = tmp_path_factory.mktemp("distributed-run")
    assert main(["corpus", "--out", str(root / "corpus"), "--speakers", "6", "--takes", "1"]) == 0
    assert (
        main(
            [
                "train",
                "--data",
                str(root / "corpus"),
                "--out",
                str(root / "run"),
                "--model",
                "audionet",
                "--preset",
                "demo",
                "--width",
                "0.125",
                "--epochs",
                "1",
                "--max-steps",
                "3",
                "--no-cache",
                "--workers",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    return root / "run", root / "corpus"


@pytest.fixture(scope="module")
def spec(run_and_corpus: tuple[Path, Path]) -> dict[str, Any]:
    run, corpus = run_and_corpus
    planned = eb.plan_bundle(
        run,
        corpus,
        Design(n_decisions=N_DECISIONS, methods=METHODS),
        seed=SEED,
        chunk_size=CHUNK_SIZE,
    )
    assert len(planned["chunks"]) >= 4
    return planned


@pytest.fixture(scope="module")
def reference(spec: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The same plan written by one process (``write_bundle``): what every distributed run must equal."""
    out = tmp_path_factory.mktemp("single-process") / "bundle"
    eb.write_bundle(spec, out)
    return tree(out)


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    need(port_open("127.0.0.1", 6379), "Redis at 127.0.0.1:6379")
    logs = tmp_path_factory.mktemp("worker-logs")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "CELERY_"))}
    # OMP_NUM_THREADS=2: the app must still compute with one torch thread per process.
    env |= {
        "REDIS_URL": REDIS_URL,
        "OMP_NUM_THREADS": "2",
        "PYTHONUNBUFFERED": "1",
    }

    a = start(
        "a",
        [
            "-m",
            FAULTY_CELERY,
            "-A",
            "explainer.celery_app",
            "worker",
            "-Q",
            f"{QUEUE_ONE},{QUEUE_BOTH}",
            "-n",
            f"a-{TOKEN}@%h",
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
    # B is the compose file's worker-explain: its command and environment, but our queue and name.
    service = compose_service("worker-explain")
    b = start(
        "b",
        compose_command(service["command"], queue=QUEUE_BOTH, node=f"b-{TOKEN}@%h"),
        env=env | compose_environment(service) | {"REDIS_URL": REDIS_URL},
        logs=logs,
    )
    # They boot while the run is trained and the reference written; `client` waits for them.
    started = Workers(a, b)
    try:
        yield started
    finally:
        for process in (started.a, started.b):  # both shut down at once
            if process.popen.poll() is None:
                os.killpg(process.popen.pid, signal.SIGTERM)
        started.a.stop()
        started.b.stop()
        _forget_queues()


def compose_service(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))["services"][
        name
    ]


def compose_command(command: list[str], *, queue: str, node: str) -> list[str]:
    """A compose ``celery ...`` command as arguments of this interpreter (with the test faults), consuming ``queue`` as ``node``."""
    assert command[0] == "celery"
    command = list(command)
    command[command.index("-Q") + 1] = queue
    command[command.index("-n") + 1] = node
    return ["-m", FAULTY_CELERY, *command[1:]]


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment with compose's defaults (``${NAME:-default}``) filled in."""
    return {
        key: re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)
        for key, value in service["environment"].items()
    }


def _forget_queues() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"*{TOKEN}*"):
        client.delete(key)


@pytest.fixture(scope="module")
def client(workers: Workers) -> Any:
    """The coordinator's Celery client, once both workers are ready."""
    for process in (workers.a, workers.b):
        wait_until(
            lambda p=process: " ready." in p.output(),
            timeout_s=90,
            what=f"worker {process.name}",
            process=process,
        )
    return dist.make_client(REDIS_URL)


def test_one_worker_writes_byte_for_byte_the_bundle_one_process_writes(
    workers: Workers,
    run_and_corpus: tuple[Path, Path],
    reference: dict[str, bytes],
    client: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run, corpus = run_and_corpus
    out = tmp_path / "bundles" / "b"
    status = main(
        [
            "bundle-distributed",
            "--run",
            str(run),
            "--data",
            str(corpus),
            "--out",
            str(out),
            "--n",
            str(N_DECISIONS),
            "--seed",
            str(SEED),
            "--methods",
            ",".join(METHODS),
            "--chunk-size",
            str(CHUNK_SIZE),
            "--broker",
            REDIS_URL,
            "--queue",
            QUEUE_ONE,
            "--shortfall",
            "fill",  # as the reference's Design
        ]
    )
    assert status == 0, capsys.readouterr().err
    assert tree(out) == reference
    assert f"rendered by a-{TOKEN}@" in capsys.readouterr().err
    # The work folder (default: next to --out) is gone with the plan and chunk records in it.
    assert sorted(p.name for p in out.parent.iterdir()) == ["b"]


def test_two_workers_share_the_chunks_and_a_failed_or_killed_chunk_is_retried_to_the_same_bytes(
    spec: dict[str, Any], reference: dict[str, bytes], workers: Workers, client: Any, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    fault(work, spec, 1, "raise")  # an error after its files were written: retried with backoff
    fault(
        work, spec, 3, "exit"
    )  # the worker process dies mid-chunk: the chunk goes back to the queue
    seen = {name: len(p.output()) for name, p in (("a", workers.a), ("b", workers.b))}
    result = dist.render_distributed(
        spec, tmp_path / "b", client=client, work_root=work, queue=QUEUE_BOTH, stall_timeout_s=120
    )
    assert tree(tmp_path / "b") == reference
    assert (result["sent"], result["reused"]) == (len(spec["chunks"]), 0)
    # Both took chunks (which one's attempt succeeded depends on timing and on the faults).
    assert all(
        "explainer.render_chunk" in p.output()[seen[name] :]
        for name, p in (("a", workers.a), ("b", workers.b))
    )
    assert set(result["rendered_by"]) <= {f"{name}-{TOKEN}@{socket.gethostname()}" for name in "ab"}
    retries = [line for line in workers.output().splitlines() if "Retry in" in line]
    assert any("RuntimeError('chunk 1: injected failure')" in line for line in retries)
    assert any(
        "WorkerLostError('Worker exited prematurely: exitcode 70" in line for line in retries
    )


def test_a_chunk_sent_twice_is_rendered_once_by_a_process_with_one_torch_thread(
    spec: dict[str, Any], workers: Workers, client: Any, tmp_path: Path
) -> None:
    folder, digest = dist.prepare_work_folder(spec, tmp_path / "work")
    replies = []
    for _ in range(2):
        sent = client.send_task(dist.TASK_NAME, args=(str(folder.path), digest, 0), queue=QUEUE_ONE)
        replies.append(sent.get(timeout=120))
        sent.forget()
    assert [r["rendered"] for r in replies] == [True, False]
    assert replies[0]["records"] == replies[1]["records"]
    assert {r["torch_threads"] for r in replies} == {1}  # although the worker has OMP_NUM_THREADS=2
    assert [p.name for p in folder.attempts.iterdir()] == []


def test_the_compose_health_check_answers_for_the_explain_worker_and_fails_for_a_missing_one(
    client: Any,
) -> None:
    kind, script = compose_service("worker-explain")["healthcheck"]["test"]
    assert kind == "CMD-SHELL" and "explain@$$HOSTNAME" in script
    script = script.replace("$$", "$").replace("explain@$HOSTNAME", f"b-{TOKEN}@$HOSTNAME")
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOSTNAME": socket.gethostname(),
        "REDIS_URL": REDIS_URL,
        "HOME": os.environ.get("HOME", "/tmp"),
    }

    def check(command: str) -> int:
        return subprocess.run(
            ["sh", "-c", command], env=env, cwd=REPO, capture_output=True, timeout=60
        ).returncode

    assert check(script) == 0
    assert (
        check(
            script.replace(f"b-{TOKEN}@", f"gone-{TOKEN}@").replace("--timeout 10", "--timeout 1")
        )
        != 0
    )


def test_running_a_finished_chunk_again_changes_nothing_and_a_lost_file_is_rendered_again(
    spec: dict[str, Any], tmp_path: Path
) -> None:
    folder, digest = dist.prepare_work_folder(spec, tmp_path / "work")
    first = dist.run_chunk(folder.path, digest, 1)

    def snapshot() -> dict[str, tuple[int, bytes]]:
        return {
            p.relative_to(folder.path).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.path.rglob("*"))
            if p.is_file()
        }

    before = snapshot()
    again = dist.run_chunk(folder.path, digest, 1)
    assert (first["rendered"], again["rendered"]) == (True, False)
    assert again["records"] == first["records"] and snapshot() == before
    lost = folder.bundle / first["records"][0]["files"]["visual_heatmap"]["path"]
    lost.unlink()
    assert dist.run_chunk(folder.path, digest, 1)["rendered"] is True
    assert lost.read_bytes() == before[lost.relative_to(folder.path).as_posix()][1]


def test_chunks_done_on_another_file_system_are_finished_by_a_copy_next_to_the_bundle(
    spec: dict[str, Any], reference: dict[str, bytes], tmp_path: Path
) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system (/dev/shm) for the work folder")
    work = Path(tempfile.mkdtemp(dir=shm, prefix="hearxai-test-"))
    try:
        folder, digest = dist.prepare_work_folder(spec, work)
        for chunk in range(
            len(spec["chunks"])
        ):  # done already, as by workers before a coordinator died
            dist.run_chunk(folder.path, digest, chunk)
        result = dist.render_distributed(
            spec, tmp_path / "b", client=dist.make_client(REDIS_URL), work_root=work
        )
        assert (result["sent"], result["reused"]) == (0, len(spec["chunks"]))
        assert tree(tmp_path / "b") == reference
        assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no copy left behind
        assert not work.exists()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_a_chunk_that_fails_for_good_stops_the_run_with_its_error_and_a_rerun_resumes(
    spec: dict[str, Any], reference: dict[str, bytes], workers: Workers, client: Any, tmp_path: Path
) -> None:
    work, out, last = tmp_path / "work", tmp_path / "b", len(spec["chunks"]) - 1
    # Bad input is not retried. One worker takes the chunks in order, so the others are done by then.
    fault(work, spec, last, "user")
    with pytest.raises(
        UserError,
        match=rf"^chunk {last} \(stimuli from .+\) failed on a worker: UserError: "
        rf"chunk {last}: injected failure$",
    ):
        dist.render_distributed(
            spec, out, client=client, work_root=work, queue=QUEUE_ONE, stall_timeout_s=120
        )
    assert not out.exists()
    result = dist.render_distributed(
        spec, out, client=client, work_root=work, queue=QUEUE_ONE, stall_timeout_s=120
    )
    assert (result["sent"], result["reused"]) == (1, last)
    assert tree(out) == reference


def test_a_queue_no_worker_consumes_is_named_on_stderr_and_a_stall_ends_the_wait(
    spec: dict[str, Any],
    client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(coordinator, "QUIET_S", 0.3)
    orphan = f"explain-test-{TOKEN}-nobody"
    with pytest.raises(
        UserError, match=rf"^no chunk finished in 2 s \({len(spec['chunks'])} waiting\); "
    ):
        dist.render_distributed(
            spec,
            tmp_path / "b",
            client=client,
            work_root=tmp_path / "w",
            queue=orphan,
            stall_timeout_s=2,
        )
    assert f"warning: no worker consumes queue '{orphan}' yet" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_an_unreachable_or_malformed_broker_is_one_clear_line_before_any_work(
    run_and_corpus: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, corpus = run_and_corpus
    base = [
        "bundle-distributed",
        "--run",
        str(run),
        "--data",
        str(corpus),
        "--out",
        str(tmp_path / "b"),
    ]
    assert main([*base, "--broker", f"redis://127.0.0.1:{free_port()}/0"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: cannot reach the broker at redis://127.0.0.1:"
    )
    assert main([*base, "--broker", "http://127.0.0.1:6379/0"]) == 2
    assert (
        capsys.readouterr().err
        == "error: --broker='http://127.0.0.1:6379/0' is not a redis:// URL (e.g. redis://127.0.0.1:6379/0)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_that_is_not_a_bundle_is_refused_before_anything_is_queued(
    spec: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "b").mkdir()
    with pytest.raises(UserError, match="exists and is not a bundle"):
        dist.render_distributed(
            spec,
            tmp_path / "b",
            client=dist.make_client(REDIS_URL),
            work_root=tmp_path / "w",
            overwrite=True,
        )
    assert not (tmp_path / "w").exists()


def test_the_plan_digest_ignores_key_order_but_not_content(spec: dict[str, Any]) -> None:
    shuffled = json.loads(json.dumps(dict(reversed(list(spec.items())))))
    assert dist.plan_digest(shuffled) == dist.plan_digest(spec)
    changed = json.loads(json.dumps(spec))
    changed["render"]["envelope_ms"] += 1
    assert dist.plan_digest(changed) != dist.plan_digest(spec)
    assert dist.chunk_key(dist.plan_digest(spec), [0, 1]) != dist.chunk_key(
        dist.plan_digest(spec), [0, 2]
    )
