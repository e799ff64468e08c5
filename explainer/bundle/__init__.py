"""Stimulus bundles: explain a balanced set of decisions and write them as a bundle.

Three steps, each usable on its own (a job queue can run step 2 chunk by chunk):

1. :func:`plan_bundle` (:mod:`~explainer.bundle.planning`) predicts every held-out
   candidate (:mod:`~explainer.bundle.prediction`) and selects decisions by the declared
   :class:`~explainer.selection.Design`; the plan (JSON) lists every stimulus and fixes
   the chunks they are computed in.
2. :func:`explainer.rendering.render_chunk` explains and renders one chunk, here or in
   the processes of :func:`worker_pool` (:mod:`~explainer.bundle.pool`).
3. :func:`assemble_manifest` (:mod:`~explainer.bundle.manifest`) joins the chunk results
   into the manifest.

:func:`write_bundle` (:mod:`~explainer.bundle.writing`) runs all three into a temporary
folder, validates the result (:mod:`~explainer.bundle.validation`) and only then renames
it into place, so a failed run leaves nothing half-written. The command line is
:mod:`explainer.bundle.cli`.
"""

from explainer.bundle.manifest import assemble_manifest
from explainer.bundle.planning import CHUNK_SIZE, RenderOptions, plan_bundle, plan_chunks
from explainer.bundle.pool import render_all, worker_pool
from explainer.bundle.validation import validate_bundle, validate_files
from explainer.bundle.writing import check_out, finalize_bundle, write_bundle

__all__ = [
    "CHUNK_SIZE",
    "RenderOptions",
    "assemble_manifest",
    "check_out",
    "finalize_bundle",
    "plan_bundle",
    "plan_chunks",
    "render_all",
    "validate_bundle",
    "validate_files",
    "worker_pool",
    "write_bundle",
]
