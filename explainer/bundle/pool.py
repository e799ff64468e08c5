"""Worker processes that render a plan's chunks, started (and warmed) before planning ends."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from explainer.bundle.planning import CHUNK_SIZE


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
