"""``python -m tests.explainer.faulty_celery worker ...``: the ``celery`` command with test-only faults.

A marker file ``WORK/<digest[:16]>/faults/<chunk>.<kind>`` makes the next attempt at
that chunk fail once, at the worst moment: after its files are in place and before its
record is written. ``raise`` is an error (retried), ``exit`` kills the worker process
(retried once the worker notices), ``user`` is a bad-input error (not retried).
Removing the marker is atomic, so exactly one attempt fails.

The product code knows nothing of this: the wrapper is installed here, in the worker's
main process, before Celery forks its pool.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from explainer.distributed import worker
from explainer.distributed.work_folder import WorkFolder
from explainer.errors import UserError

FAULT_KINDS = ("raise", "exit", "user")


def faults_folder(folder: WorkFolder) -> Path:
    """Where the markers of ``folder``'s plan go."""
    return folder.path / "faults"


def inject_fault(folder: WorkFolder, chunk: int) -> None:
    """Fail this attempt once if a test left a marker for ``chunk``."""
    for kind in FAULT_KINDS:
        try:
            (faults_folder(folder) / f"{chunk}.{kind}").unlink()
        except FileNotFoundError:
            continue
        if kind == "exit":
            os._exit(70)
        if kind == "user":
            raise UserError(f"chunk {chunk}: injected failure")
        raise RuntimeError(f"chunk {chunk}: injected failure")


def install() -> None:
    """Make :func:`explainer.distributed.worker.record_chunk` honour the markers first."""
    record_chunk = worker.record_chunk

    def faulty_record_chunk(folder: WorkFolder, digest: str, chunk: int, *rest: Any) -> None:
        inject_fault(folder, chunk)
        record_chunk(folder, digest, chunk, *rest)

    worker.record_chunk = faulty_record_chunk


if __name__ == "__main__":
    from celery.__main__ import main

    install()
    main()
