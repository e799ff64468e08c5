"""Step 2 and the end of a bundle: render into a temporary folder, validate, move into place.

A failed run leaves nothing half-written: the folder is renamed to its name only once
its manifest is written and every file checked.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from contracts import bundle_format as bf
from explainer.bundle.manifest import assemble_manifest
from explainer.bundle.pool import render_all, worker_pool
from explainer.bundle.validation import validate_files
from explainer.errors import UserError
from explainer.folders import replace_folder


def write_bundle(
    spec: dict[str, Any],
    out: Path,
    *,
    workers: int = 1,
    overwrite: bool = False,
    pool: Executor | None = None,
) -> dict[str, Any]:
    """Render every chunk of ``spec``, assemble and validate the manifest, then move into ``out``.

    Parameters
    ----------
    workers : int
        Processes to render in (ignored when ``pool`` is given; 1 renders here).
    pool : concurrent.futures.Executor, optional
        A running :func:`worker_pool`, e.g. started before planning so it is warm.

    Returns
    -------
    dict
        ``manifest``, ``n_files`` and ``timings``: seconds per stage summed over chunks
        (``prepare``, ``relevance``, ``render``, and ``cpu`` seconds of the chunks), then
        ``manifest`` (assembling, writing and validating), ``wall``, and
        ``cpu_by_process``.
    """
    out = Path(out)
    check_out(out, overwrite=overwrite)
    if pool is None and workers > 1:
        with worker_pool(workers, spec["run_dir"], colormap=spec["render"]["colormap"]) as own_pool:
            return write_bundle(spec, out, overwrite=overwrite, pool=own_pool)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / bf.FILES_DIR).mkdir(parents=True)
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        results = render_all(spec, tmp, pool=pool)
        finish = time.perf_counter()
        manifest = _finish_manifest(spec, results, tmp, pool)
        replace_folder(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    timings = _timings(
        results,
        manifest_s=time.perf_counter() - finish,
        wall_s=time.perf_counter() - start,
        main_cpu_s=time.process_time() - cpu_start,
    )
    n_files = len({e["path"] for s in manifest["stimuli"] for e in s["files"].values()})
    return {"manifest": manifest, "n_files": n_files, "timings": timings}


def check_out(out: Path, *, overwrite: bool) -> None:
    """Refuse, before any work is done, a bundle folder that exists (unless ``overwrite``) or is no bundle."""
    if out.exists() and not overwrite:
        raise UserError(f"{out}: already exists (pass --overwrite to replace it)")
    if out.exists() and not (out / bf.MANIFEST_NAME).is_file():
        raise UserError(f"{out}: exists and is not a bundle; refusing to replace it")


def finalize_bundle(
    spec: dict[str, Any],
    records: Sequence[dict[str, Any]],
    work_dir: Path,
    out: Path,
    *,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Finish a bundle whose chunks were rendered elsewhere (for example by job-queue workers).

    Parameters
    ----------
    records : sequence of dict
        The ``records`` of every chunk's :func:`explainer.rendering.render_chunk` result.
    work_dir : pathlib.Path
        The folder the chunks were rendered into (``work_dir/files/``); it is validated,
        given its manifest and renamed to ``out``, so it must be on the same file system.

    Returns
    -------
    dict
        The manifest.
    """
    out, work_dir = Path(out), Path(work_dir)
    check_out(out, overwrite=overwrite)
    manifest = _finish_manifest(spec, [{"records": list(records)}], work_dir, None)
    replace_folder(work_dir, out)
    return manifest


def _finish_manifest(
    spec: dict[str, Any], results: list[dict[str, Any]], tmp: Path, pool: Executor | None
) -> dict[str, Any]:
    """Assemble the manifest, check it (schema) and the files in ``tmp``, then write it.

    With a pool the schema check runs in one worker while the others decode files.
    """
    manifest = assemble_manifest(spec, [r for res in results for r in res["records"]])
    schema = pool.submit(bf.validate_manifest, manifest) if pool is not None else None
    problems = validate_files(tmp, manifest, pool=pool)
    problems = (
        schema.result() if schema is not None else bf.validate_manifest(manifest)
    ) + problems
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise UserError(
            f"the new bundle failed its own validation: {'; '.join(problems[:5])}{more}"
        )
    text = bf.dumps_manifest(
        manifest
    )  # the contract's canonical form, as bf.write_manifest writes it
    (tmp / (bf.MANIFEST_NAME + ".tmp")).write_text(text, encoding="utf-8")
    (tmp / (bf.MANIFEST_NAME + ".tmp")).replace(tmp / bf.MANIFEST_NAME)
    if (tmp / bf.MANIFEST_NAME).read_text(encoding="utf-8") != text:
        raise UserError(f"{tmp / bf.MANIFEST_NAME}: does not read back as written")
    return manifest


def _timings(
    results: list[dict[str, Any]], *, manifest_s: float, wall_s: float, main_cpu_s: float
) -> dict[str, Any]:
    timings: dict[str, Any] = {
        key: sum(r["timings"][key] for r in results)
        for key in ("prepare", "relevance", "render", "cpu")
    }
    timings["manifest"], timings["wall"] = manifest_s, wall_s
    # CPU seconds per process (this one included), to tell parallel overhead from a busy machine.
    by_process: dict[str, float] = {}
    for res in results:
        pid = str(res["timings"]["pid"])
        by_process[pid] = by_process.get(pid, 0.0) + res["timings"]["cpu"]
    by_process[str(os.getpid())] = main_cpu_s  # includes chunks rendered in this process
    timings["cpu_by_process"] = by_process
    return timings
