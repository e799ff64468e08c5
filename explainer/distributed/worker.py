"""The workers' side: render one chunk of a plan into the work folder, once, as a Celery task.

A chunk is idempotent: its files are named by their content and moved into the shared
folder whole, and a finished chunk leaves a record keyed by the chunk's hash (plan
digest and stimulus indices), so running it again only reads that record. A failed
task is retried with a growing delay (also when its worker process dies).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts import bundle_format as bf
from explainer.celery_app import app
from explainer.distributed.work_folder import (
    WorkFolder,
    chunk_key,
    finished_records,
    write_atomic,
)
from explainer.errors import UserError

if TYPE_CHECKING:
    from celery import Task

TASK_NAME = "explainer.render_chunk"
MAX_RETRIES = 5
_PLANS: OrderedDict[str, dict[str, Any]] = OrderedDict()
_PLANS_KEPT = 4


class WorkFolderUnavailable(RuntimeError):
    """The work folder is not visible on this worker; retried, since another worker may see it."""


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
    record_chunk(folder, digest, chunk, indices, result["records"])
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


def record_chunk(
    folder: WorkFolder,
    digest: str,
    chunk: int,
    indices: Sequence[int],
    records: list[dict[str, Any]],
) -> None:
    """Write a finished chunk's record (last: a record means every file of it is in place)."""
    record = {"plan": digest, "chunk": chunk, "indices": list(indices), "records": records}
    write_atomic(
        folder.chunk_record(chunk_key(digest, indices)),
        json.dumps(record, sort_keys=True).encode("utf-8"),
    )


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
