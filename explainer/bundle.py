"""``python -m explainer bundle``: explain a balanced set of decisions and write a stimulus bundle.

    python -m explainer bundle --run RUN_DIR --data DIR --out BUNDLE_DIR [--n N --seed S]
    python -m explainer bundle --validate BUNDLE_DIR

Three steps, each usable on its own (a job queue can run step 2 chunk by chunk):

1. :func:`plan_bundle` predicts every held-out candidate and selects decisions by the
   declared :class:`~explainer.selection.Design`; the plan (JSON) lists every stimulus
   and fixes the chunks they are computed in.
2. :func:`explainer.rendering.render_chunk` explains and renders one chunk.
3. :func:`assemble_manifest` joins the chunk results into the manifest.

:func:`write_bundle` runs all three into a temporary folder, with ``--workers``
processes, validates the result and only then renames it into place, so a failed run
leaves nothing half-written. The manifest holds no time stamps: the same inputs give a
byte-identical manifest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from contracts import bundle_format as bf
from explainer.errors import UserError
from explainer.selection import (
    SHORTFALL_POLICIES,
    SPLITS,
    Candidate,
    Design,
    Selection,
    candidate_speakers,
    select,
)

GENERATOR_NAME = "hearxai-explainer"
CHUNK_SIZE = 16  # stimuli explained in one batch; fixed by the plan, not by --workers
PREDICT_BATCH = 64


# --- command line ------------------------------------------------------------------------------


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--validate",
        metavar="BUNDLE_DIR",
        type=Path,
        help="check an existing bundle and list every problem",
    )
    parser.add_argument(
        "--run", type=Path, help="trained run folder (from python -m explainer train)"
    )
    parser.add_argument(
        "--data", type=Path, help="corpus folder (AudioMNIST layout) holding the run's speakers"
    )
    parser.add_argument(
        "--out", type=Path, help="bundle folder to write (must not exist unless --overwrite)"
    )
    parser.add_argument(
        "--n",
        type=int,
        default=20,
        help="decisions to explain, spread evenly over classes (default 20)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="selection seed, recorded in the manifest (default 0)"
    )
    parser.add_argument(
        "--methods",
        default="lrp-epsilon-plus-flat",
        help="comma-separated explanation methods; each decision is explained with each (default lrp-epsilon-plus-flat)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="METHOD.KEY=VALUE",
        help="override a method parameter, e.g. occlusion.window_ms=80 (repeatable)",
    )
    parser.add_argument(
        "--incorrect-fraction",
        type=float,
        default=0.5,
        help="share of each class's decisions that are wrong predictions (default 0.5)",
    )
    parser.add_argument(
        "--practice",
        type=int,
        default=0,
        help="extra practice decisions, flagged in the manifest (default 0)",
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="test",
        help="candidate speakers from the run's split (default test)",
    )
    parser.add_argument(
        "--target",
        choices=("predicted", "true"),
        default="predicted",
        help="class to explain (default predicted)",
    )
    parser.add_argument(
        "--shortfall",
        choices=SHORTFALL_POLICIES,
        default="fill",
        help="a cell with too few candidates: fill from the same class's other cell, or error (default fill)",
    )
    parser.add_argument(
        "--colormap",
        choices=("red-blue", "purple-orange"),
        default="red-blue",
        help="diverging colour map; purple-orange is colour-blind safe (default red-blue)",
    )
    parser.add_argument(
        "--envelope-ms",
        type=float,
        default=20.0,
        help="smoothing of the audible heatmap envelope, ms (default 20)",
    )
    parser.add_argument(
        "--playback-rate",
        type=int,
        default=8000,
        help="sample rate of the bundle's WAV files, Hz (default 8000)",
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing bundle folder"
    )


def run(args: argparse.Namespace) -> int:
    if args.validate is not None:
        return _run_validate(args.validate)
    missing = [
        flag
        for flag, value in (("--run", args.run), ("--data", args.data), ("--out", args.out))
        if value is None
    ]
    if missing:
        raise UserError(f"{', '.join(missing)} required (or --validate BUNDLE_DIR)")
    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    design = Design(
        n_decisions=args.n,
        incorrect_fraction=args.incorrect_fraction,
        practice=args.practice,
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
        split=args.split,
        target=args.target,
        shortfall=args.shortfall,
    )
    options = RenderOptions.from_args(args)
    params = parse_params(args.param)
    # Workers start (and warm up) while this process plans.
    with worker_pool(args.workers, args.run, colormap=args.colormap) as pool:
        spec = plan_bundle(
            args.run,
            args.data,
            design,
            seed=args.seed,
            render=options.as_dict(),
            method_params=params,
        )
        for line in spec["selection"]["shortfall"]:
            print(
                f"warning: too few candidates, filled from the same class: {line}", file=sys.stderr
            )
        result = write_bundle(spec, args.out, overwrite=args.overwrite, pool=pool)
    print(
        f"wrote {args.out}: {len(spec['stimuli'])} stimuli ({result['n_files']} files)",
        file=sys.stderr,
    )
    return 0


def _run_validate(bundle_dir: Path) -> int:
    problems = validate_bundle(bundle_dir)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{bundle_dir}: {len(problems)} problem(s) found", file=sys.stderr)
        return 1
    manifest = bf.read_manifest(bundle_dir)
    print(f"{bundle_dir}: valid bundle v{bf.BUNDLE_VERSION}, {len(manifest['stimuli'])} stimuli")
    return 0


def parse_params(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["occlusion.window_ms=80"]`` -> ``{"occlusion": {"window_ms": 80}}`` (values parsed as JSON)."""
    params: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        method, dot, name = key.rpartition(".")
        if not sep or not dot or not method or not name:
            raise UserError(f"--param {item!r}: expected METHOD.KEY=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params.setdefault(method, {})[name] = value
    return params


class RenderOptions:
    """How files are rendered: colour map, envelope, playback rate, loudness."""

    def __init__(
        self, colormap: str = "red-blue", envelope_ms: float = 20.0, playback_rate: int = 8000
    ) -> None:
        from explainer import audio_checks, heatmaps

        if colormap not in heatmaps.COLORMAPS:
            raise UserError(
                f"unknown colour map {colormap!r}; choose one of {', '.join(heatmaps.COLORMAPS)}"
            )
        if not 0 < envelope_ms <= 1000:
            raise UserError(f"--envelope-ms must be within (0, 1000], got {envelope_ms}")
        if not 8000 <= playback_rate <= 96000:
            raise UserError(f"--playback-rate must be within 8000..96000 Hz, got {playback_rate}")
        self.values = {
            "colormap": colormap,
            "envelope_ms": float(envelope_ms),
            "playback_rate": int(playback_rate),
            "target_rms_dbfs": audio_checks.TARGET_RMS_DBFS,
            "peak_ceiling_dbfs": audio_checks.PEAK_CEILING_DBFS,
        }

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RenderOptions:
        return cls(args.colormap, args.envelope_ms, args.playback_rate)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


# --- step 1: plan ------------------------------------------------------------------------------


def plan_bundle(
    run_dir: Path,
    data_dir: Path,
    design: Design,
    *,
    seed: int,
    render: dict[str, Any] | None = None,
    method_params: dict[str, dict[str, Any]] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> dict[str, Any]:
    """Predict the candidates, select decisions and list every stimulus to make.

    Returns
    -------
    dict
        The plan, JSON-serialisable: run and data folders, model description, methods
        with full parameters, render options, ``stimuli`` (one per decision and method)
        and ``chunks`` (lists of stimulus indices computed together).
    """
    from explainer.data import load_recordings
    from explainer.rendering import load_run_cached

    methods = resolve_methods(design.methods, method_params or {})
    run = load_run_cached(str(Path(run_dir).resolve()))
    table = load_recordings(Path(data_dir))
    split = run.config["split"]
    speakers = candidate_speakers(split, design.split, table.speakers())
    if not speakers:
        raise UserError(
            f"{data_dir}: none of the run's {design.split} speakers ({', '.join(split.get('test', []))}) has recordings here"
        )
    candidates = predict_candidates(run, table.where(speakers=speakers))
    selection = select(candidates, run.classes, design, seed)
    stimuli = _stimuli(selection, design)
    return {
        "run_dir": str(Path(run_dir).resolve()),
        "data_root": str(Path(table.root).resolve()),
        "representation": run.representation,
        "classes": list(run.classes),
        "model": describe_model(run),
        "methods": methods,
        "target": design.target,
        "render": (render or RenderOptions().as_dict()),
        "selection": _selection_record(selection, design, seed, len(candidates), speakers),
        "stimuli": stimuli,
        "chunks": plan_chunks(stimuli, chunk_size),
    }


def resolve_methods(
    names: Iterable[str], overrides: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Each method's full parameters; unknown methods or parameters are a :class:`UserError`."""
    from explainer.relevance import get_method

    names = list(names)
    stray = sorted(set(overrides) - set(names))
    if stray:
        raise UserError(f"--param names method(s) {', '.join(stray)} not in --methods")
    try:
        return {name: get_method(name).resolve_params(overrides.get(name)) for name in names}
    except ValueError as exc:
        raise UserError(str(exc)) from None


def predict_candidates(run: Any, table: Any) -> list[Candidate]:
    """The model's decision on every recording of ``table``, batched, with softmax scores."""
    import torch

    from explainer.rendering import RENDER_THREADS

    recordings = list(table)
    threads = torch.get_num_threads()
    torch.set_num_threads(
        RENDER_THREADS
    )  # as for rendering: results must not depend on the machine
    try:
        return _predict(run, recordings)
    finally:
        torch.set_num_threads(threads)


def _predict(run: Any, recordings: list[Any]) -> list[Candidate]:
    import numpy as np
    import torch
    from tqdm import tqdm

    candidates: list[Candidate] = []
    with tqdm(
        total=len(recordings),
        desc="predicting candidates",
        unit="rec",
        file=sys.stderr,
        disable=None,
    ) as bar:
        for start in range(0, len(recordings), PREDICT_BATCH):
            batch = recordings[start : start + PREDICT_BATCH]
            prepared = [run.prepare(r.path, r.relpath) for r in batch]
            inputs = np.stack([p[1] for p in prepared]).astype(np.float32)
            with torch.no_grad():
                scores = torch.softmax(
                    run.model(torch.from_numpy(inputs).unsqueeze(1)).double(), dim=1
                ).numpy()
            for rec, row, (_, _, offset) in zip(batch, scores, prepared, strict=True):
                candidates.append(
                    Candidate(
                        relpath=rec.relpath,
                        speaker=rec.speaker,
                        take=rec.take,
                        audio_sha256=rec.audio_sha256,
                        true_label=rec.label(run.task),
                        predicted_label=run.classes[int(row.argmax())],
                        scores=tuple(round(float(s), 6) for s in row),
                        offset_samples=int(offset),
                    )
                )
            bar.update(len(batch))
    return candidates


def describe_model(run: Any) -> dict[str, Any]:
    """The manifest's ``model`` object."""
    described = run.data_description
    training_data = {
        "description": described["description"],
        "fingerprint": described["fingerprint"],
    }
    for key in ("n_recordings", "split"):
        if key in described:
            training_data[key] = described[key]
    accuracy = run.test_accuracy
    return {
        "architecture": run.architecture,
        "task": run.task,
        "input": run.representation,
        "classes": list(run.classes),
        "weights_sha256": run.weights_sha256,
        "test_accuracy": None if accuracy is None else round(float(accuracy), 6),
        "training_data": training_data,
        "width": run.width,
    }


def _stimuli(selection: Selection, design: Design) -> list[dict[str, Any]]:
    from explainer import preprocessing as pp

    stimuli = []
    for practice, decisions in ((False, selection.main), (True, selection.practice)):
        for method in design.methods:
            for c in decisions:
                stem = Path(c.relpath).stem
                stimuli.append(
                    {
                        "id": f"{stem}-{method}" + ("-practice" if practice else ""),
                        "recording": c.relpath,
                        "speaker": c.speaker,
                        "take": c.take,
                        "true_label": c.true_label,
                        "predicted_label": c.predicted_label,
                        "scores": list(c.scores),
                        "correct": c.correct,
                        "method": method,
                        "practice": practice,
                        "offset_samples": c.offset_samples,
                        "sample_rate": pp.SAMPLE_RATE,
                    }
                )
    return stimuli


def plan_chunks(stimuli: Sequence[dict[str, Any]], chunk_size: int = CHUNK_SIZE) -> list[list[int]]:
    """Consecutive stimuli of one method, at most ``chunk_size`` per chunk."""
    chunks: list[list[int]] = []
    for index, stim in enumerate(stimuli):
        if (
            chunks
            and len(chunks[-1]) < chunk_size
            and stimuli[chunks[-1][0]]["method"] == stim["method"]
        ):
            chunks[-1].append(index)
        else:
            chunks.append([index])
    return chunks


def _selection_record(
    selection: Selection, design: Design, seed: int, n_candidates: int, speakers: list[str]
) -> dict[str, Any]:
    return {
        "seed": seed,
        "design": design.to_dict(),
        "n_candidates": n_candidates,
        "candidate_speakers": speakers,
        "cells": selection.cells,
        "shortfall": selection.shortfall,
        "n_decisions": len(selection.main),
        "n_practice_decisions": len(selection.practice),
    }


# --- step 2: render, in parallel, into a temporary folder ----------------------------------------


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
    if out.exists() and not overwrite:
        raise UserError(f"{out}: already exists (pass --overwrite to replace it)")
    if out.exists() and not (out / bf.MANIFEST_NAME).is_file():
        raise UserError(f"{out}: exists and is not a bundle; refusing to replace it")
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
        _move_into_place(tmp, out)
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
    if out.exists() and not (overwrite and (out / bf.MANIFEST_NAME).is_file()):
        raise UserError(
            f"{out}: already exists"
            + (" and is not a bundle" if overwrite else " (pass overwrite to replace it)")
        )
    manifest = _finish_manifest(spec, [{"records": list(records)}], work_dir, None)
    _move_into_place(work_dir, out)
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


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished folder to ``out``; an old bundle there is replaced, not merged."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def worker_pool(
    workers: int,
    run_dir: Path | str | None = None,
    *,
    colormap: str = "red-blue",
    wait: bool = False,
) -> Iterator[Executor | None]:
    """Worker processes for rendering, started (and, given ``run_dir``, warmed) at once.

    Yields None for one worker (render in this process). Workers start from a fork
    server that has imported torch and the rendering modules (no thread pools inherited
    from this process); warming loads the run, draws the image frames and runs one
    batch, so the first chunks do not pay for it. Start it before planning and the
    start-up overlaps the planning; ``wait`` returns only once every warm-up is done.
    """
    if workers <= 1:
        yield None
        return
    import multiprocessing

    from explainer.rendering import warm_up

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(
        [
            "torch",
            "zennit",
            "scipy.signal",
            "soundfile",
            "matplotlib.figure",
            "matplotlib.backends.backend_agg",
            "explainer.rendering",
            "explainer.relevance",
            "explainer.training",
        ]
    )
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        warming = (
            []
            if run_dir is None
            else [
                pool.submit(warm_up, str(Path(run_dir).resolve()), colormap, CHUNK_SIZE)
                for _ in range(workers)
            ]
        )
        if wait:
            for future in warming:
                future.exception()  # a failed warm-up shows again, with its message, when rendering
        yield pool


def render_all(
    spec: dict[str, Any], out_dir: Path, *, pool: Executor | None = None
) -> list[dict[str, Any]]:
    """Render every chunk of ``spec`` into ``out_dir``, here or in ``pool``; results in chunk order."""
    from tqdm import tqdm

    from explainer.rendering import render_chunk

    chunks = spec["chunks"]
    results: list[dict[str, Any] | None] = [None] * len(chunks)
    bar = tqdm(
        total=len(spec["stimuli"]),
        desc="rendering stimuli",
        unit="stim",
        file=sys.stderr,
        disable=None,
    )
    with bar:
        if pool is None:
            for index, chunk in enumerate(chunks):
                results[index] = render_chunk(spec, chunk, out_dir)
                bar.update(len(chunk))
        else:
            futures = {
                pool.submit(render_chunk, spec, chunk, out_dir): i for i, chunk in enumerate(chunks)
            }
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update(len(chunks[futures[future]]))
    return [r for r in results if r is not None]


# --- step 3: the manifest -------------------------------------------------------------------------


def assemble_manifest(spec: dict[str, Any], records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The manifest for ``spec`` from the rendered ``records`` of all its chunks (any order).

    Raises
    ------
    UserError
        If a stimulus has no record or more than one.
    """
    by_index: dict[int, dict[str, Any]] = {}
    for record in records:
        if record["index"] in by_index:
            raise UserError(f"stimulus {spec['stimuli'][record['index']]['id']} was rendered twice")
        by_index[record["index"]] = record
    missing = [s["id"] for i, s in enumerate(spec["stimuli"]) if i not in by_index]
    if missing:
        raise UserError(f"{len(missing)} stimuli were not rendered, e.g. {missing[0]}")
    return {
        "format": bf.BUNDLE_FORMAT,
        "format_version": bf.BUNDLE_VERSION,
        "generator": generator_record(),
        "model": spec["model"],
        "audio": audio_record(spec),
        "methods": methods_record(spec["methods"], spec["target"]),
        "selection": spec["selection"],
        "rendering": rendering_record(spec),
        "stimuli": [_stimulus_entry(stim, by_index[i]) for i, stim in enumerate(spec["stimuli"])],
    }


def _stimulus_entry(stim: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": stim["id"],
        "source": {
            "recording": stim["recording"],
            "speaker": stim["speaker"],
            "take": stim["take"],
            "offset_samples": stim["offset_samples"],
        },
        "true_label": stim["true_label"],
        "predicted_label": stim["predicted_label"],
        "scores": stim["scores"],
        "correct": stim["correct"],
        "method": stim["method"],
        "practice": stim["practice"],
        "files": record["files"],
        "audio_checks": record["audio_checks"],
        "timeline": record["timeline"],
    }


def generator_record() -> dict[str, Any]:
    from importlib import metadata

    import explainer

    software = {"python": platform.python_version()}
    for package in ("torch", "zennit", "numpy", "scipy", "matplotlib", "pillow", "soundfile"):
        try:
            software[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {"name": GENERATOR_NAME, "version": explainer.__version__, "software": software}


def audio_record(spec: dict[str, Any]) -> dict[str, Any]:
    from explainer import audio_checks
    from explainer import preprocessing as pp

    render = spec["render"]
    return {
        "sample_rate": render["playback_rate"],
        "loudness_matching": "rms",
        "max_duration_s": pp.WINDOW / pp.SAMPLE_RATE,
        "channels": 1,
        "encoding": audio_checks.WAV_SUBTYPE,
        "model_sample_rate": pp.SAMPLE_RATE,
        "target_rms_dbfs": render["target_rms_dbfs"],
        "peak_ceiling_dbfs": render["peak_ceiling_dbfs"],
        "content": "the model's one-second input window: the clip at its offset, silence around it",
    }


def methods_record(methods: dict[str, dict[str, Any]], target: str) -> dict[str, Any]:
    from explainer.relevance import get_method

    out = {}
    for name, params in methods.items():
        spec = get_method(name)
        out[name] = {
            "params": params,
            "description": spec.description,
            "family": spec.family,
            "explained_class": target,
        }
    return out


def rendering_record(spec: dict[str, Any]) -> dict[str, Any]:
    from explainer import audible, heatmaps

    render = spec["render"]
    return {
        "visual": {
            "colormap": render["colormap"],
            "colormap_colours": list(heatmaps.COLORMAPS[render["colormap"]]),
            "colour_blind_safe": render["colormap"] == heatmaps.COLOR_BLIND_SAFE,
            "scale": "relevance divided by its largest absolute value in the image: colour bar -1..+1, centre = 0",
            "waveform": "each pixel column: the samples' range, coloured by the sum of their relevance",
            "spectrogram": "grey dB spectrogram (0 dB black, -80 dB white) with relevance colour laid over it, opacity sqrt(|relevance|)",
            "timeline": heatmaps.timeline(),
        },
        "plain_image": "the same picture without relevance (grey waveform or grey spectrogram with a dB bar)",
        "audible": audible.audible_params(spec["representation"], render["envelope_ms"]),
    }


# --- validation ---------------------------------------------------------------------------------

LOUDNESS_TOLERANCE_DB = 0.5


def validate_bundle(bundle_dir: Path) -> list[str]:
    """Every problem with a bundle: schema, checksums, audio and images (empty if none).

    Checks the manifest against the v1 schema and its own consistency, then
    :func:`validate_files`.
    """
    bundle_dir = Path(bundle_dir)
    try:
        manifest = bf.read_manifest(bundle_dir)
    except bf.BundleError as exc:
        return list(exc.problems)
    return validate_files(bundle_dir, manifest)


def validate_files(
    bundle_dir: Path, manifest: dict[str, Any], *, pool: Executor | None = None
) -> list[str]:
    """Every problem with the files of a schema-valid manifest (empty if none).

    Every file exists, is no link, stays inside the folder and has its checksum; every
    WAV decodes, is mono at the manifest's rate, no longer than ``max_duration_s``,
    finite, not clipped and not silent; every PNG decodes (and, where a stimulus gives a
    ``timeline``, has its size); loudness-matched pairs really match; timelines are
    spans inside their images; no file in ``files/`` is left unreferenced. Files are
    decoded in ``pool`` when one is given.
    """
    bundle_dir = Path(bundle_dir)
    problems = bf.check_bundle_files(bundle_dir, manifest)
    jobs: dict[str, tuple[Any, ...]] = {}
    for stim in manifest["stimuli"]:
        for entry in stim["files"].values():
            if entry["path"] not in jobs and _decodable(bundle_dir, entry["path"]):
                jobs[entry["path"]] = (
                    str(bundle_dir),
                    entry["path"],
                    entry["media_type"],
                    manifest["audio"],
                    stim.get("timeline"),
                )
    columns = list(zip(*jobs.values(), strict=True)) or [()] * 5
    mapped = (
        pool.map(_check_file, *columns, chunksize=32)
        if pool is not None
        else map(_check_file, *columns)
    )
    decoded = dict(zip(jobs, mapped, strict=True))
    for stim in manifest["stimuli"]:
        for role, entry in sorted(stim["files"].items()):
            problems += [
                f"stimulus {stim['id']} {role}: {p}"
                for p in decoded.get(entry["path"], ([], None))[0]
            ]
        problems += _stimulus_problems(stim, manifest, decoded)
    return problems + _unreferenced(bundle_dir, manifest)


def _decodable(bundle_dir: Path, rel: str) -> bool:
    path = bundle_dir / rel
    return bf.is_safe_relative_path(rel) and not path.is_symlink() and path.is_file()


def _check_file(
    root: str, rel: str, media_type: str, audio: dict[str, Any], timeline: dict[str, Any] | None
) -> tuple[list[str], Any]:
    """Problems with one file, and its RMS in dBFS (audio) for the loudness check."""
    from explainer import audio_checks

    path = Path(root) / rel
    if media_type == "audio/wav":
        problems, samples = audio_checks.read_checked_wav(
            path,
            expected_rate=audio["sample_rate"],
            max_duration_s=audio.get("max_duration_s"),
            label=rel,
        )
        return problems, (audio_checks.dbfs(audio_checks.rms(samples)) if not problems else None)
    return _check_png(path, rel, timeline), None


def _check_png(path: Path, label: str, timeline: dict[str, Any] | None) -> list[str]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            image.load()
            size, kind = image.size, image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return [f"{label}: cannot decode as an image ({exc})"]
    problems = [] if kind == "PNG" else [f"{label}: is {kind}, not PNG"]
    if timeline and size[0] != timeline["width_px"]:
        problems.append(f"{label}: {size[0]} px wide, the timeline says {timeline['width_px']}")
    if timeline and "height_px" in timeline and size[1] != timeline["height_px"]:
        problems.append(f"{label}: {size[1]} px high, the timeline says {timeline['height_px']}")
    return problems


def _stimulus_problems(
    stim: dict[str, Any], manifest: dict[str, Any], decoded: dict[str, tuple[list[str], Any]]
) -> list[str]:
    problems = []
    timeline = stim.get("timeline")
    if timeline and not (
        0 <= timeline["x0_px"] < timeline["x1_px"] <= timeline["width_px"]
        and timeline["t0_s"] < timeline["t1_s"]
    ):
        problems.append(
            f"stimulus {stim['id']}: timeline {timeline} is not a left-to-right span inside the image"
        )
    if manifest["audio"]["loudness_matching"] == "rms":
        levels = [
            decoded.get(stim["files"][role]["path"], ([], None))[1]
            for role in ("original_audio", "audible_heatmap")
        ]
        if None not in levels and abs(levels[0] - levels[1]) > LOUDNESS_TOLERANCE_DB:
            problems.append(
                f"stimulus {stim['id']}: original and audible heatmap differ by "
                f"{abs(levels[0] - levels[1]):.2f} dB RMS (loudness matching says equal)"
            )
    return problems


def _unreferenced(bundle_dir: Path, manifest: dict[str, Any]) -> list[str]:
    folder = bundle_dir / bf.FILES_DIR
    if not folder.is_dir():
        return []
    named = {e["path"] for s in manifest["stimuli"] for e in s["files"].values()}
    extra = sorted(
        f"{bf.FILES_DIR}/{p.name}"
        for p in folder.iterdir()
        if f"{bf.FILES_DIR}/{p.name}" not in named
    )
    return [f"{p}: in the bundle but not named by the manifest" for p in extra]
