"""Step 1 of a bundle: predict the candidates, select decisions, list every stimulus.

The plan is plain JSON. It fixes everything the later steps need, the chunks included,
so a chunk gives the same bytes whichever process or machine renders it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from explainer.bundle.prediction import predict_candidates
from explainer.errors import UserError
from explainer.selection import Design, Selection, candidate_speakers, select

CHUNK_SIZE = 16  # stimuli explained in one batch; fixed by the plan, not by --workers


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

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


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
    from explainer.layouts import open_corpus
    from explainer.rendering import load_run_cached

    methods = resolve_methods(design.methods, method_params or {})
    run = load_run_cached(str(Path(run_dir).resolve()))
    table = open_corpus(Path(data_dir))
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
