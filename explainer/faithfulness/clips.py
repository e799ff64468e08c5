"""The clips an experiment scores: a run's held-out clips in a corpus, or a bundle's stimuli."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from contracts import bundle_format as bf
from explainer.errors import UserError
from explainer.faithfulness.experiment import Clips


def held_out_clips(
    run: Any,
    data: Path,
    methods: list[str],
    *,
    n_clips: int | None,
    seed: int,
    progress: bool = True,
) -> tuple[Clips, list[Any]]:
    """The run's test-speaker clips in ``data`` (a seeded sample of ``n_clips`` if given).

    The explained class is each clip's predicted class. Returns the clips and their
    recordings (for the planted-cue check).
    """
    from explainer.evaluation import held_out_recordings

    recordings = list(held_out_recordings(run, data))
    if n_clips is not None and n_clips < len(recordings):
        pick = np.sort(np.random.default_rng(seed).choice(len(recordings), n_clips, replace=False))
        recordings = [recordings[i] for i in pick]
    inputs, offsets = _inputs(run, [(r.path, r.relpath) for r in recordings], progress)
    labels = np.array([run.classes.index(r.label(run.task)) for r in recordings])
    targets = run.predict(inputs).argmax(1).astype(np.int64)
    every = list(range(len(recordings)))
    clips = Clips(
        keys=[r.relpath for r in recordings],
        inputs=inputs,
        labels=labels,
        targets=targets,
        methods={m: every for m in methods},
        params={},
        offsets=offsets,
    )
    return clips, recordings


def bundle_clips(
    run: Any, bundle: Path, data: Path, methods: list[str] | None, *, progress: bool = True
) -> tuple[Clips, dict[str, Any]]:
    """The recordings of a bundle's stimuli explained by ``run``'s model, one clip per recording.

    Each method scores the recordings it has a stimulus of, with the bundle's parameters
    and explained class. Raises :class:`UserError` when the bundle was made from another
    run, or names a method not in ``methods``.
    """
    manifest = bf.read_manifest(bundle)
    own = _own_stimuli(manifest, run, bundle)
    in_bundle = sorted({s["method"] for s in own})
    chosen = methods or in_bundle
    missing = sorted(set(chosen) - set(in_bundle))
    if missing:
        raise UserError(
            f"{bundle}: has no stimuli explained with {', '.join(missing)}; it has {', '.join(in_bundle)}"
        )
    keys = list(dict.fromkeys(s["source"]["recording"] for s in own if s["method"] in chosen))
    first = {}
    for stim in own:
        first.setdefault(stim["source"]["recording"], stim)
    planned = [first[k]["source"]["offset_samples"] for k in keys]
    placed, _ = _inputs(run, [(Path(data) / k, k) for k in keys], progress, offsets=planned)
    explained = {m: manifest["methods"][m]["explained_class"] for m in chosen}
    if len(set(explained.values())) > 1:
        raise UserError(
            f"{bundle}: methods explain different classes ({explained}); score them one at a time"
        )
    field = "predicted_label" if next(iter(explained.values())) == "predicted" else "true_label"
    position = {k: i for i, k in enumerate(keys)}
    clips = Clips(
        keys=keys,
        inputs=placed,
        labels=np.array([run.classes.index(first[k]["true_label"]) for k in keys]),
        targets=np.array([run.classes.index(first[k][field]) for k in keys]),
        methods={
            m: sorted({position[s["source"]["recording"]] for s in own if s["method"] == m})
            for m in chosen
        },
        params={m: manifest["methods"][m]["params"] for m in chosen},
        offsets=planned,
    )
    return clips, manifest


def _own_stimuli(manifest: dict[str, Any], run: Any, bundle: Path) -> list[dict[str, Any]]:
    """The stimuli whose model has ``run``'s weights; none is a :class:`UserError`."""
    weights = {None: manifest["model"]["weights_sha256"]}
    weights |= {k: m["weights_sha256"] for k, m in manifest.get("models", {}).items()}
    own = [s for s in manifest["stimuli"] if weights.get(s.get("model_id")) == run.weights_sha256]
    if not own:
        raise UserError(
            f"{bundle}: was made from another run than {run.run_dir} "
            f"(model weights {manifest['model']['weights_sha256'][:12]}, the run's {run.weights_sha256[:12]})"
        )
    return own


def _inputs(
    run: Any,
    items: list[tuple[Path, str]],
    progress: bool,
    offsets: list[int] | None = None,
) -> tuple[np.ndarray, list[int]]:
    """Network inputs ``(n, *input_shape)`` float32, placed as the run places them, and the offsets."""
    out, placed = [], []
    for i, (path, relpath) in enumerate(
        tqdm(items, desc="reading clips", file=sys.stderr, disable=not progress or None)
    ):
        if not Path(path).is_file():
            raise UserError(f"{path}: missing (give the corpus the bundle was made from as --data)")
        _, model_input, offset = run.prepare(path, relpath)
        if offsets is not None and offset != offsets[i]:
            raise UserError(f"{relpath}: placed at {offset}, the bundle says {offsets[i]}")
        out.append(model_input.astype(np.float32))
        placed.append(int(offset))
    return np.stack(out), placed
