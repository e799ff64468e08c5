"""The coordinator: queue a plan's unfinished chunks, collect their records, finish the bundle.

Once every chunk is done the coordinator assembles and validates the manifest (once)
and renames the rendered folder into place: the bundle is byte-identical to a
single-process run of the same plan. A chunk that keeps failing stops it with its
error; running it again resumes, and finished chunks are not sent again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explainer.bundle import check_out, finalize_bundle
from explainer.celery_app import DEFAULT_QUEUE
from explainer.distributed.client import make_client, warn_if_no_worker
from explainer.distributed.work_folder import (
    WORK_DIR_NAME,
    WorkFolder,
    finished_records,
    prepare_work_folder,
)
from explainer.distributed.worker import TASK_NAME
from explainer.errors import UserError

if TYPE_CHECKING:
    from celery import Celery

QUIET_S = 5.0  # no chunk done after this long: check that a worker consumes the queue


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
    check_out(out, overwrite=overwrite)
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
