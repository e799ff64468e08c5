"""``python -m explainer bundle-distributed``: a bundle's chunks as Celery tasks on any number of workers.

    celery -A explainer.celery_app worker -Q explain         # on every machine, as many as you like
    python -m explainer bundle-distributed --run RUN --data DIR --out BUNDLE [bundle options]
        [--work-dir SHARED] [--chunk-size 16] [--broker redis://HOST:6379/0] [--queue explain]

This process (the coordinator) plans the bundle exactly as ``python -m explainer bundle``
does, writes the plan into a work folder that every worker sees at the same path, and
queues one task per chunk. Workers render their chunks' files into that folder. Once
every chunk is done the coordinator assembles and validates the manifest (once) and
renames the folder into place: the bundle is byte-identical to a single-process run of
the same plan.

A chunk is idempotent: its files are named by their content and moved into the shared
folder whole, and a finished chunk leaves a record keyed by the chunk's hash (plan
digest and stimulus indices), so running it again only reads that record. A failed
task is retried with a growing delay (also when its worker process dies); a chunk that
keeps failing stops the coordinator with its error, and running the same command again
resumes: finished chunks are not sent again.

Work folder (``--work-dir``, default ``.hearxai-chunks`` next to ``--out``)::

    WORK/<digest[:16]>/plan.json          the plan as canonical JSON; its SHA-256 is the digest
                       bundle/files/      rendered files (the folder becomes the bundle)
                       chunks/<key>.json  records of finished chunks
                       attempts/<id>/     a running attempt's private output
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import socket
import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from celery.backends.redis import RedisBackend

from contracts import bundle_format as bf
from explainer.celery_app import DEFAULT_QUEUE, app
from explainer.errors import UserError

if TYPE_CHECKING:
    from celery import Celery, Task

TASK_NAME = "explainer.render_chunk"
WORK_DIR_NAME = ".hearxai-chunks"
PLAN_NAME = "plan.json"
MAX_RETRIES = 5
QUIET_S = 5.0  # no chunk done after this long: check that a worker consumes the queue
# Tests only: with HEARXAI_EXPLAIN_FAULTS=1 in a worker's environment, a marker file
# WORK/<digest>/faults/<chunk>.<kind> makes the next attempt at that chunk fail once.
FAULTS_ENV = "HEARXAI_EXPLAIN_FAULTS"
FAULT_KINDS = ("raise", "exit", "user")
_PLANS: OrderedDict[str, dict[str, Any]] = OrderedDict()
_PLANS_KEPT = 4


class WorkFolderUnavailable(RuntimeError):
    """The work folder is not visible on this worker; retried, since another worker may see it."""


# --- the work folder ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkFolder:
    """One plan's folder inside the work folder (see the module docstring)."""

    path: Path

    @property
    def plan(self) -> Path:
        return self.path / PLAN_NAME

    @property
    def bundle(self) -> Path:
        return self.path / "bundle"

    @property
    def chunks(self) -> Path:
        return self.path / "chunks"

    @property
    def attempts(self) -> Path:
        return self.path / "attempts"

    @property
    def faults(self) -> Path:
        return self.path / "faults"

    def chunk_record(self, key: str) -> Path:
        return self.chunks / f"{key}.json"


def canonical_plan(spec: dict[str, Any]) -> bytes:
    """The plan as canonical JSON bytes (sorted keys, no spaces): what its digest is taken of."""
    return json.dumps(
        spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def plan_digest(spec: dict[str, Any]) -> str:
    """SHA-256 (hex) of :func:`canonical_plan`."""
    return hashlib.sha256(canonical_plan(spec)).hexdigest()


def chunk_key(digest: str, indices: Sequence[int]) -> str:
    """The chunk's hash: the plan digest and the stimulus indices it renders."""
    return hashlib.sha256(f"{digest}:{','.join(str(i) for i in indices)}".encode()).hexdigest()[:32]


def prepare_work_folder(spec: dict[str, Any], root: Path) -> tuple[WorkFolder, str]:
    """Create the plan's folder under ``root`` and write the plan (once); return it and the digest."""
    data = canonical_plan(spec)
    digest = hashlib.sha256(data).hexdigest()
    folder = WorkFolder(Path(root) / digest[:16])
    for path in (folder.bundle / bf.FILES_DIR, folder.chunks, folder.attempts):
        path.mkdir(parents=True, exist_ok=True)
    if not folder.plan.is_file():
        write_atomic(folder.plan, data)
    elif folder.plan.read_bytes() != data:
        raise UserError(f"{folder.plan}: holds another plan; remove {folder.path} and run again")
    return folder, digest


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary name unique across machines, then rename (readers never see a part)."""
    tmp = path.with_name(
        f".{path.name}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    )
    tmp.write_bytes(data)
    os.replace(tmp, path)


def finished_records(
    folder: WorkFolder, digest: str, indices: Sequence[int]
) -> list[dict[str, Any]] | None:
    """The records of a finished chunk, or None if it is not done (or its files are gone)."""
    try:
        record = json.loads(
            folder.chunk_record(chunk_key(digest, indices)).read_text(encoding="utf-8")
        )
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):  # written atomically, so only a damaged disk gets here
        return None
    if record.get("plan") != digest or record.get("indices") != list(indices):
        return None
    paths = {entry["path"] for r in record["records"] for entry in r["files"].values()}
    if not all((folder.bundle / path).is_file() for path in paths):
        return None
    return record["records"]


# --- the worker's side ----------------------------------------------------------------------------


def load_plan(folder: WorkFolder, digest: str) -> dict[str, Any]:
    """The plan in ``folder``, checked against its digest; cached per process."""
    if digest in _PLANS:
        _PLANS.move_to_end(digest)
        return _PLANS[digest]
    try:
        data = folder.plan.read_bytes()
    except FileNotFoundError:
        raise WorkFolderUnavailable(
            f"{folder.plan}: not found on {socket.gethostname()}; the work folder must be shared "
            "at the same path on every machine"
        ) from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise UserError(
            f"{folder.plan}: is not the plan {digest[:16]} that was queued (changed since)"
        )
    _PLANS[digest] = json.loads(data)
    if len(_PLANS) > _PLANS_KEPT:
        _PLANS.popitem(last=False)
    return _PLANS[digest]


def run_chunk(folder_path: str | Path, digest: str, chunk: int) -> dict[str, Any]:
    """Render chunk ``chunk`` of the plan in ``folder_path``, unless it is done already.

    Files are rendered into a private attempt folder and then moved into the shared
    ``bundle/files/`` one by one (a file already there has the same content, its name
    being its hash); the chunk's record is written last, so a record means every file
    is in place.

    Returns
    -------
    dict
        ``chunk``, ``key`` (the chunk's hash), ``records`` (as
        :func:`explainer.rendering.render_chunk` returns them), ``rendered`` (False if
        the chunk was done already), ``timings`` (None if not rendered), ``host``, ``pid``
        and ``torch_threads`` (of this process; rendering itself always uses one).
    """
    import torch

    from explainer.rendering import render_chunk

    folder = WorkFolder(Path(folder_path))
    spec = load_plan(folder, digest)
    if not 0 <= chunk < len(spec["chunks"]):
        raise UserError(f"chunk {chunk}: the plan has chunks 0..{len(spec['chunks']) - 1}")
    indices = spec["chunks"][chunk]
    summary = {
        "chunk": chunk,
        "key": chunk_key(digest, indices),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "torch_threads": torch.get_num_threads(),
    }
    records = finished_records(folder, digest, indices)
    if records is not None:
        return summary | {"records": records, "rendered": False, "timings": None}
    attempt = folder.attempts / uuid.uuid4().hex
    (attempt / bf.FILES_DIR).mkdir(parents=True)
    try:
        result = render_chunk(spec, indices, attempt)
        publish_files(attempt, folder.bundle)
    finally:
        shutil.rmtree(attempt, ignore_errors=True)
    inject_fault(folder, chunk)
    record = {
        "plan": digest,
        "chunk": chunk,
        "indices": list(indices),
        "records": result["records"],
    }
    write_atomic(
        folder.chunk_record(summary["key"]), json.dumps(record, sort_keys=True).encode("utf-8")
    )
    return summary | {"records": result["records"], "rendered": True, "timings": result["timings"]}


def publish_files(attempt: Path, bundle: Path) -> None:
    """Move an attempt's finished files into ``bundle/files/`` by rename (whole files only)."""
    target_dir = bundle / bf.FILES_DIR
    for source in sorted((attempt / bf.FILES_DIR).iterdir()):
        if source.name.startswith("."):  # a temporary file: not a finished one
            continue
        target = target_dir / source.name
        if not target.exists():
            os.replace(source, target)


def inject_fault(folder: WorkFolder, chunk: int) -> None:
    """Fail this attempt once if a test left a marker (only with ``HEARXAI_EXPLAIN_FAULTS=1``).

    Runs after the chunk's files are in place and before its record is written, the
    worst moment: ``raise`` is an error (retried), ``exit`` kills the worker process
    (retried once the worker notices), ``user`` is a bad-input error (not retried).
    Removing the marker is atomic, so exactly one attempt fails.
    """
    if os.environ.get(FAULTS_ENV) != "1":
        return
    for kind in FAULT_KINDS:
        try:
            (folder.faults / f"{chunk}.{kind}").unlink()
        except FileNotFoundError:
            continue
        if kind == "exit":
            os._exit(70)
        if kind == "user":
            raise UserError(f"chunk {chunk}: injected failure")
        raise RuntimeError(f"chunk {chunk}: injected failure")


@app.task(
    name=TASK_NAME,
    bind=True,
    autoretry_for=(Exception,),
    dont_autoretry_for=(UserError,),
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
    default_retry_delay=2,
)
def render_chunk_task(self: Task, folder: str, digest: str, chunk: int) -> dict[str, Any]:
    """Celery task: :func:`run_chunk`. Errors other than bad input (:class:`UserError`) are retried."""
    return run_chunk(folder, digest, chunk) | {"worker": self.request.hostname}


# --- the coordinator ------------------------------------------------------------------------------


class PolledRedisBackend(RedisBackend):
    """Celery's Redis result backend without a subscription per sent task.

    The stock backend subscribes to every sent task's result channel. The coordinator
    polls (MGET) instead, so thousands of results published to a subscription it never
    reads would pile up on that connection until Redis cut it (pubsub output limits).
    """

    def on_task_call(self, producer: Any, task_id: str) -> None:
        """Subscribe to nothing: :func:`collect` polls."""


def make_client(broker: str | None = None) -> Celery:
    """A Celery app configured like the workers', talking to ``broker`` (default ``REDIS_URL``)."""
    from celery import Celery

    from explainer.celery_app import ConfigurationError, configuration, redis_url

    try:
        url = redis_url(broker, name="--broker")
    except ConfigurationError as exc:
        raise UserError(str(exc)) from None
    client = Celery("explainer-coordinator")
    # Celery's "backend-class+url" form: the same Redis as the workers store into, polled.
    client.conf.update(
        configuration(url) | {"result_backend": f"{__name__}:PolledRedisBackend+{url}"}
    )
    return client


def check_broker(client: Celery) -> None:
    """Fail with one clear line if the broker does not answer."""
    try:
        with client.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=5)
    except Exception as exc:  # kombu raises the transport's own errors
        raise UserError(
            f"cannot reach the broker at {without_password(client.conf.broker_url)}: {exc}"
        ) from None


def without_password(url: str) -> str:
    """``url`` with its password masked, for messages."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    return parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":**@", 1)).geturl()


def warn_if_no_worker(client: Celery, queue: str) -> None:
    """Say so on stderr when no worker consumes ``queue`` yet (the chunks then wait for one)."""
    replies = client.control.inspect(timeout=1.0).active_queues() or {}
    if not any(q.get("name") == queue for queues in replies.values() for q in queues):
        print(
            f"warning: no worker consumes queue {queue!r} yet; chunks wait until one starts "
            f"(celery -A explainer.celery_app worker -Q {queue})",
            file=sys.stderr,
        )


def send_chunks(
    client: Celery, folder: WorkFolder, digest: str, chunks: Iterable[int], queue: str
) -> dict[str, int]:
    """Queue one task per chunk; returns task id -> chunk."""
    sent = {}
    with client.producer_or_acquire() as producer:
        for chunk in chunks:
            result = client.send_task(
                TASK_NAME, args=(str(folder.path), digest, chunk), queue=queue, producer=producer
            )
            sent[result.id] = chunk
    return sent


def collect(
    client: Celery,
    sent: dict[str, int],
    spec: dict[str, Any],
    bar: Any,
    *,
    queue: str,
    stall_timeout_s: float | None = None,
    poll_s: float = 0.1,
) -> dict[int, dict[str, Any]]:
    """Wait for every sent chunk; returns chunk -> task result. A failed chunk is a :class:`UserError`.

    If nothing has finished after ``QUIET_S``, checks (once) that some worker consumes
    ``queue``: asking the workers takes a second, so a run that is moving never pays it.
    """
    pending, results = dict(sent), {}
    last_progress = asked = time.monotonic()
    while pending:
        if not results and asked is not None and time.monotonic() - asked > QUIET_S:
            warn_if_no_worker(client, queue)
            asked = None
        for task_id, meta in client.backend.get_many(
            set(pending), max_iterations=1, interval=poll_s
        ):
            chunk = pending.pop(task_id)
            client.backend.forget(task_id)
            if meta["status"] != "SUCCESS":
                for other in (
                    pending
                ):  # results already stored; chunks still running keep theirs (they expire)
                    client.backend.forget(other)
                first = spec["stimuli"][spec["chunks"][chunk][0]]["id"]
                raise UserError(
                    f"chunk {chunk} (stimuli from {first}) failed on a worker: "
                    f"{type(meta['result']).__name__}: {meta['result']}"
                )
            results[chunk] = meta["result"]
            bar.update(len(spec["chunks"][chunk]))
            last_progress = time.monotonic()
        if stall_timeout_s and pending and time.monotonic() - last_progress > stall_timeout_s:
            raise UserError(
                f"no chunk finished in {stall_timeout_s:.0f} s ({len(pending)} waiting); "
                "are workers running on this queue?"
            )
    return results


def render_distributed(
    spec: dict[str, Any],
    out: Path,
    *,
    client: Celery | None = None,
    work_root: Path | None = None,
    queue: str = DEFAULT_QUEUE,
    overwrite: bool = False,
    stall_timeout_s: float | None = None,
    poll_s: float = 0.1,
) -> dict[str, Any]:
    """Render ``spec`` (from :func:`explainer.bundle.plan_bundle`) on Celery workers and write the bundle.

    Parameters
    ----------
    out : pathlib.Path
        Bundle folder to write; must not exist unless ``overwrite`` (and then be a bundle).
    client : celery.Celery, optional
        From :func:`make_client` (default: ``make_client()``, broker ``REDIS_URL``).
    work_root : pathlib.Path, optional
        Folder every worker sees at the same path (default ``.hearxai-chunks`` next to ``out``).
    queue : str
        Queue the workers consume.
    stall_timeout_s : float, optional
        Give up when no chunk finishes for this long (default: wait for workers forever).

    Returns
    -------
    dict
        ``manifest``, ``n_files``, ``n_chunks``, ``sent`` (chunks queued), ``reused``
        (chunks found done), ``rendered_by`` (worker -> chunks it rendered) and
        ``timings``: ``wall`` seconds, and summed over the rendered chunks ``prepare``,
        ``relevance``, ``render`` and ``cpu`` seconds.
    """
    from tqdm import tqdm

    client = make_client() if client is None else client
    out = Path(out).absolute()
    check_out(out, overwrite)
    start = time.perf_counter()
    folder, digest = prepare_work_folder(
        spec, Path(work_root or out.parent / WORK_DIR_NAME).absolute()
    )
    reused = {
        i: records
        for i, chunk in enumerate(spec["chunks"])
        if (records := finished_records(folder, digest, chunk)) is not None
    }
    todo = [i for i in range(len(spec["chunks"])) if i not in reused]
    sent = send_chunks(client, folder, digest, todo, queue) if todo else {}
    initial = sum(len(spec["chunks"][i]) for i in reused)
    with tqdm(
        total=len(spec["stimuli"]),
        initial=initial,
        desc="rendering chunks on workers",
        unit="stim",
        file=sys.stderr,
        disable=None,
    ) as bar:
        results = collect(
            client, sent, spec, bar, queue=queue, stall_timeout_s=stall_timeout_s, poll_s=poll_s
        )
    by_chunk = reused | {chunk: result["records"] for chunk, result in results.items()}
    records = [r for chunk in sorted(by_chunk) for r in by_chunk[chunk]]
    manifest = finish(spec, records, folder, out, overwrite=overwrite)
    shutil.rmtree(folder.path, ignore_errors=True)
    with contextlib.suppress(OSError):  # the work folder itself, once no other bundle uses it
        folder.path.parent.rmdir()
    return {
        "manifest": manifest,
        "n_files": len({e["path"] for s in manifest["stimuli"] for e in s["files"].values()}),
        "n_chunks": len(spec["chunks"]),
        "sent": len(sent),
        "reused": len(reused),
        "rendered_by": _rendered_by(results.values()),
        "timings": _timings(results.values(), time.perf_counter() - start),
    }


def check_out(out: Path, overwrite: bool) -> None:
    """Refuse before any work is done, as :func:`explainer.bundle.write_bundle` does."""
    if out.exists() and not overwrite:
        raise UserError(f"{out}: already exists (pass --overwrite to replace it)")
    if out.exists() and not (out / bf.MANIFEST_NAME).is_file():
        raise UserError(f"{out}: exists and is not a bundle; refusing to replace it")


def finish(
    spec: dict[str, Any],
    records: list[dict[str, Any]],
    folder: WorkFolder,
    out: Path,
    *,
    overwrite: bool,
) -> dict[str, Any]:
    """Assemble, validate and write the manifest (once), then rename the rendered folder to ``out``.

    A rename cannot cross file systems: if ``out`` is on another one than the work
    folder, the files are copied next to ``out`` first, so the last step stays a rename.
    """
    from explainer.bundle import finalize_bundle

    out.parent.mkdir(parents=True, exist_ok=True)
    source = folder.bundle
    if os.stat(source).st_dev != os.stat(out.parent).st_dev:
        source = out.parent / f".{out.name}.tmp-{os.getpid()}"
        shutil.rmtree(source, ignore_errors=True)
        shutil.copytree(folder.bundle, source)
    try:
        return finalize_bundle(spec, records, source, out, overwrite=overwrite)
    except UserError as exc:
        raise UserError(
            f"{exc}; the rendered chunks stay in {folder.path} (remove it to render them again)"
        ) from None
    finally:
        if source != folder.bundle:
            shutil.rmtree(source, ignore_errors=True)


def _rendered_by(results: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in results:
        if result["rendered"]:
            counts[result["worker"]] = counts.get(result["worker"], 0) + 1
    return dict(sorted(counts.items()))


def _timings(results: Iterable[dict[str, Any]], wall_s: float) -> dict[str, float]:
    timings = {"wall": wall_s, "prepare": 0.0, "relevance": 0.0, "render": 0.0, "cpu": 0.0}
    for result in results:
        for key in ("prepare", "relevance", "render", "cpu"):
            timings[key] += (result["timings"] or {}).get(key, 0.0)
    return timings


# --- command line ------------------------------------------------------------------------------

# Options of ``python -m explainer bundle`` that mean nothing here: more workers are more
# Celery workers, and --validate belongs to the bundle command.
_NOT_HERE = {"help", "validate", "workers"}


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from explainer import bundle as eb

    # The bundle command's options are copied, not restated, so the two never drift apart.
    shared = argparse.ArgumentParser(add_help=False)
    eb.configure_parser(shared)
    for action in shared._actions:
        if action.dest not in _NOT_HERE:
            parser._add_action(action)
    parser.add_argument(
        "--work-dir",
        type=Path,
        help=f"folder every worker sees at the same path, e.g. on NFS (default {WORK_DIR_NAME} next to --out)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=eb.CHUNK_SIZE,
        help=f"stimuli per task, part of the plan (default {eb.CHUNK_SIZE}, as the bundle command)",
    )
    parser.add_argument("--broker", help="Redis URL of the workers' broker (default: REDIS_URL)")
    parser.add_argument(
        "--queue",
        default=DEFAULT_QUEUE,
        help=f"queue the workers consume (default {DEFAULT_QUEUE})",
    )
    parser.add_argument(
        "--stall-timeout",
        type=float,
        default=0.0,
        help="give up when no chunk finishes for this many seconds (default 0: wait)",
    )


def run(args: argparse.Namespace) -> int:
    from explainer import bundle as eb

    missing = [
        flag
        for flag, value in (("--run", args.run), ("--data", args.data), ("--out", args.out))
        if value is None
    ]
    if missing:
        raise UserError(f"{', '.join(missing)} required")
    if args.chunk_size < 1:
        raise UserError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    client = make_client(args.broker)
    check_broker(client)  # before planning, which takes a while
    check_out(Path(args.out), args.overwrite)
    spec = eb.plan_bundle(
        args.run,
        args.data,
        design_from_args(args),
        seed=args.seed,
        render=eb.RenderOptions.from_args(args).as_dict(),
        method_params=eb.parse_params(args.param),
        chunk_size=args.chunk_size,
    )
    for line in spec["selection"]["shortfall"]:
        print(f"warning: too few candidates, filled from the same class: {line}", file=sys.stderr)
    result = render_distributed(
        spec,
        args.out,
        client=client,
        work_root=args.work_dir,
        queue=args.queue,
        overwrite=args.overwrite,
        stall_timeout_s=args.stall_timeout or None,
    )
    workers = ", ".join(f"{name}: {n}" for name, n in result["rendered_by"].items()) or "none"
    print(
        f"wrote {args.out}: {len(spec['stimuli'])} stimuli ({result['n_files']} files) in {result['n_chunks']} chunks "
        f"({result['reused']} found done; rendered by {workers})",
        file=sys.stderr,
    )
    return 0


def design_from_args(args: argparse.Namespace) -> Any:
    """The selection design from the bundle command's options."""
    from explainer.selection import Design

    return Design(
        n_decisions=args.n,
        incorrect_fraction=args.incorrect_fraction,
        practice=args.practice,
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
        split=args.split,
        target=args.target,
        shortfall=args.shortfall,
    )
