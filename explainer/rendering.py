"""Turning planned stimuli into files: relevance, heatmap PNGs and loudness-matched WAVs.

Work is split into chunks fixed by the plan (:func:`explainer.bundle.planning.plan_bundle`), so a
chunk gives the same bytes whichever process, or machine, renders it: the batch a
stimulus is explained in never depends on the number of workers. A chunk's result is
plain JSON (records plus timings) and its files land, named by content hash, in the
``files/`` folder of ``out_dir``; :func:`explainer.bundle.manifest.assemble_manifest` joins the
results of all chunks into one manifest.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from contracts.bundle_format import ROLE_MEDIA_TYPES, content_file_name, sha256_bytes
from explainer import audible, audio_checks, heatmaps
from explainer.errors import UserError

SUFFIX = {"audio/wav": ".wav", "image/png": ".png"}
_PLAIN_CACHE: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
_PLAIN_CACHE_SIZE = 256
RENDER_THREADS = 1


class StimulusError(UserError):
    """A stimulus whose files fail the checks; the message names the stimulus."""


def load_run_cached(run_dir: str, weights_sha256: str | None = None) -> Any:
    """The trained run, loaded once per process and weights file.

    A long-lived worker may see a run folder retrained in place, so the cache is keyed
    by the weights file's size and modification time too; with ``weights_sha256`` (the
    plan's) a run whose weights changed since planning is an error.
    """
    from explainer import run_files

    weights = Path(run_dir) / run_files.MODEL_NAME
    stat = weights.stat() if weights.is_file() else None
    run = _load_run(run_dir, None if stat is None else (stat.st_size, stat.st_mtime_ns))
    if weights_sha256 is not None and run.weights_sha256 != weights_sha256:
        raise UserError(f"{weights}: the weights changed since the bundle was planned")
    return run


@lru_cache(maxsize=2)
def _load_run(run_dir: str, version: tuple[int, int] | None) -> Any:
    from explainer.training import load_run

    return load_run(Path(run_dir))


def chunk_run(spec: dict[str, Any], indices: Sequence[int]) -> Any:
    """The run whose model explains these stimuli (one model per chunk, see ``plan_chunks``)."""
    model_id = spec["stimuli"][indices[0]].get("model_id")
    if model_id is None:
        return load_run_cached(spec["run_dir"], spec["model"]["weights_sha256"])
    other = spec["runs"][model_id]
    return load_run_cached(other["run_dir"], other["weights_sha256"])


def warm_up(run_dir: str, colormap: str, batch: int) -> None:
    """Prepare a worker process: load the run, draw the image frames, run one batch.

    Everything here is cached per process, so the first real chunk does not pay for it.
    """
    import torch

    from explainer import preprocessing as pp
    from explainer.relevance import explain

    run = load_run_cached(run_dir)
    shown = "waveform" if run.representation == "waveform" else "spectrogram"
    heatmaps.warm_frames(shown, colormap)
    shape = (batch, 1, *pp.input_shape(run.representation))
    threads = torch.get_num_threads()
    torch.set_num_threads(RENDER_THREADS)
    try:
        explain(run.model, torch.zeros(shape), "gradient")
    finally:
        torch.set_num_threads(threads)


def render_chunk(spec: dict[str, Any], indices: Sequence[int], out_dir: Path) -> dict[str, Any]:
    """Explain and render the stimuli ``spec["stimuli"][i]`` for ``i`` in ``indices``.

    Parameters
    ----------
    spec : dict
        The bundle plan (JSON-serialisable), see :func:`explainer.bundle.planning.plan_bundle`.
    indices : sequence of int
        Stimuli to render; they are explained together, one batch per method.
    out_dir : pathlib.Path
        Bundle folder (usually the temporary one); files go to ``out_dir/files/``.

    Returns
    -------
    dict
        ``records``: per stimulus ``{"index", "files", "audio_checks", "timeline"}``;
        ``timings``: seconds spent on ``prepare`` (reading audio), ``relevance`` and
        ``render`` (images, audio, encoding and writing); ``cpu`` seconds of this
        process and its ``pid``.
    """
    import torch

    run = chunk_run(spec, indices)
    # One thread, always: torch's results depend (in the last bits) on its thread count,
    # and bundles must not depend on the machine or on --workers. Parallelism comes from
    # worker processes instead.
    threads = torch.get_num_threads()
    torch.set_num_threads(RENDER_THREADS)
    try:
        return _render_chunk(spec, indices, Path(out_dir), run)
    finally:
        torch.set_num_threads(threads)


def _render_chunk(
    spec: dict[str, Any], indices: Sequence[int], out_dir: Path, run: Any
) -> dict[str, Any]:
    import torch

    from explainer.relevance import explain

    timings: dict[str, Any] = {"prepare": 0.0, "relevance": 0.0, "render": 0.0, "pid": os.getpid()}
    cpu_start = time.process_time()
    records = []
    by_method: dict[str, list[int]] = {}
    for i in indices:
        by_method.setdefault(spec["stimuli"][i]["method"], []).append(i)
    for method, group in by_method.items():
        start = time.perf_counter()
        prepared = [_prepare(run, spec, spec["stimuli"][i]) for i in group]
        batch = torch.from_numpy(np.stack([p[1] for p in prepared])).unsqueeze(1)
        targets = torch.tensor([target_index(spec, spec["stimuli"][i]) for i in group])
        mid = time.perf_counter()
        relevance = explain(
            run.model, batch, method, targets=targets, params=spec["methods"][method]
        ).relevance
        relevance = relevance.squeeze(1).double().numpy()
        end = time.perf_counter()
        for i, (window, model_input), rel in zip(group, prepared, relevance, strict=True):
            records.append(render_stimulus(spec, i, window, model_input, rel, Path(out_dir)))
        timings["prepare"] += mid - start
        timings["relevance"] += end - mid
        timings["render"] += time.perf_counter() - end
    timings["cpu"] = time.process_time() - cpu_start
    return {"records": sorted(records, key=lambda r: r["index"]), "timings": timings}


def _prepare(run: Any, spec: dict[str, Any], stim: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The window and network input the plan saw (same placement, checked)."""
    window, model_input, offset = run.prepare(
        Path(spec["data_root"]) / stim["recording"], stim["recording"]
    )
    if offset != stim["offset_samples"]:
        raise UserError(
            f"{stim['recording']}: placed at {offset}, the plan said {stim['offset_samples']}"
        )
    return window, model_input.astype(np.float32)


def target_index(spec: dict[str, Any], stim: dict[str, Any]) -> int:
    """Index of the class a planned stimulus explains (its predicted or its true label)."""
    label = stim["predicted_label"] if spec["target"] == "predicted" else stim["true_label"]
    return spec["classes"].index(label)


def render_stimulus(
    spec: dict[str, Any],
    index: int,
    window: np.ndarray,
    model_input: np.ndarray,
    relevance: np.ndarray,
    out_dir: Path,
) -> dict[str, Any]:
    """Make and write one stimulus's four files; raise :class:`StimulusError` if a check fails.

    Parameters
    ----------
    window : numpy.ndarray
        ``(8000,)`` model window at 8 kHz (the clip inside silence).
    model_input : numpy.ndarray
        ``(8000,)`` normalised waveform, ``(227, 227)`` dB spectrogram or ``(64, 227)`` log-mel.
    relevance : numpy.ndarray
        Relevance shaped like ``model_input`` (log-mel relevance is drawn on the STFT grid).
    """
    from explainer.preprocessing import as_displayed

    stim, render = spec["stimuli"][index], spec["render"]
    representation, shown_input, shown = as_displayed(
        spec["representation"], window, model_input, relevance
    )
    heard_window = audible.audible_heatmap(
        window, shown, representation, envelope_ms=render["envelope_ms"]
    )
    original, heard, record = _audio_pair(window, heard_window, render, stim["id"])
    files = {
        "original_audio": audio_checks.wav_bytes(original, render["playback_rate"]),
        "audible_heatmap": audio_checks.wav_bytes(heard, render["playback_rate"]),
        "visual_heatmap": _image(representation, window, shown_input, shown, render["colormap"]),
        "plain_image": _plain_image(representation, window, shown_input),
    }
    entries = {
        role: write_content(out_dir, data, ROLE_MEDIA_TYPES[role]) for role, data in files.items()
    }
    from explainer.faithfulness.stimulus import stimulus_deletion

    result = {
        "index": index,
        "files": entries,
        "audio_checks": record,
        "timeline": heatmaps.timeline(),
        **_facts(spec, index, window, relevance, heard_window, files),
    }
    result.setdefault("faithfulness", {}).update(
        stimulus_deletion(spec, index, model_input, relevance)
    )
    return result


def _facts(
    spec: dict[str, Any],
    index: int,
    window: np.ndarray,
    relevance: np.ndarray,
    heard: np.ndarray,
    files: dict[str, bytes],
) -> dict[str, Any]:
    """``relevance_in_cue`` (clips with a cue), ``label_audible`` (with a recogniser) and
    ``faithfulness`` (the audible heatmap played back to the model)."""
    from explainer.bundle.facts import label_audible
    from explainer.cue_reliance import relevance_in_cue
    from explainer.faithfulness.playback import play_back

    stim = spec["stimuli"][index]
    facts: dict[str, Any] = {"faithfulness": {}}
    facts["faithfulness"] |= play_back(
        chunk_run(spec, [index]), [window], [files["audible_heatmap"]], [target_index(spec, stim)]
    )[0]
    if stim.get("cue", {}).get("present"):
        facts["relevance_in_cue"] = relevance_in_cue(relevance, stim["cue"], spec["representation"])
    recogniser = spec.get("recogniser")
    if recogniser is not None:
        run = load_run_cached(recogniser["run_dir"], recogniser["weights_sha256"])
        facts["label_audible"] = label_audible(run, heard, stim["true_label"], recogniser["role"])
    return facts


def _audio_pair(
    window: np.ndarray,
    heard: np.ndarray,
    render: dict[str, Any],
    stim_id: str,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Original and audible heatmap (both ``(8000,)`` at 8 kHz) at the playback rate,
    loudness-matched and checked."""
    from explainer import preprocessing as pp

    rate = render["playback_rate"]
    pair = [audible.resample(s, pp.SAMPLE_RATE, rate) for s in (window, heard)]
    matched = audio_checks.match_loudness(
        pair[0],
        pair[1],
        method=audio_checks.planned_matching(render),
        sample_rate=rate,
        target_rms_dbfs=render["target_rms_dbfs"],
        peak_ceiling_dbfs=render["peak_ceiling_dbfs"],
    )
    length = int(round(pp.WINDOW * rate / pp.SAMPLE_RATE))
    problems = []
    for label, signal in (
        ("original audio", matched.original),
        ("audible heatmap", matched.audible),
    ):
        problems += audio_checks.check_signal(
            signal, rate, expected_rate=rate, expected_length=length, label=label
        )
    if problems:
        raise StimulusError(f"stimulus {stim_id}: " + "; ".join(problems))
    record = {
        "loudness": matched.record,
        "checks": ["finite", "sample_rate", "length", "no_clipping", "not_silent"],
        "passed": True,
        "length_samples": length,
        "sample_rate": rate,
    }
    return matched.original, matched.audible, record


def _image(
    representation: str,
    window: np.ndarray,
    model_input: np.ndarray,
    relevance: np.ndarray | None,
    colormap: str,
) -> bytes:
    if representation == "waveform":
        return heatmaps.render_waveform(window, relevance, colormap=colormap)
    return heatmaps.render_spectrogram(model_input, relevance, colormap=colormap)


def _plain_image(representation: str, window: np.ndarray, model_input: np.ndarray) -> bytes:
    """The unexplained rendering; every method's stimulus of a recording shares it.

    Cached by the window's content (not its name: another run may place the clip
    elsewhere).
    """
    key = (
        representation,
        hashlib.blake2b(np.ascontiguousarray(window).tobytes(), digest_size=16).digest(),
    )
    if key not in _PLAIN_CACHE:
        _PLAIN_CACHE[key] = _image(representation, window, model_input, None, "red-blue")
        if len(_PLAIN_CACHE) > _PLAIN_CACHE_SIZE:
            _PLAIN_CACHE.popitem(last=False)
    return _PLAIN_CACHE[key]


def write_content(out_dir: Path, data: bytes, media_type: str) -> dict[str, str]:
    """Write ``data`` under ``files/`` named by its SHA-256 (atomically; once per content)."""
    sha = sha256_bytes(data)
    rel = content_file_name(sha, SUFFIX[media_type])
    target = Path(out_dir) / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return {"path": rel, "sha256": sha, "media_type": media_type}
