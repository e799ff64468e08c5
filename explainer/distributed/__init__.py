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

Modules: :mod:`~explainer.distributed.work_folder` (the shared folder and its records),
:mod:`~explainer.distributed.worker` (the Celery task), :mod:`~explainer.distributed.client`
(the coordinator's Celery client and result backend),
:mod:`~explainer.distributed.coordinator` (queue, collect, finish) and
:mod:`~explainer.distributed.cli`.
"""

from explainer.distributed.client import make_client
from explainer.distributed.coordinator import render_distributed
from explainer.distributed.work_folder import (
    WorkFolder,
    chunk_key,
    plan_digest,
    prepare_work_folder,
)
from explainer.distributed.worker import TASK_NAME, run_chunk

__all__ = [
    "TASK_NAME",
    "WorkFolder",
    "chunk_key",
    "make_client",
    "plan_digest",
    "prepare_work_folder",
    "render_distributed",
    "run_chunk",
]
