"""Step 1 of a bundle: predict the candidates, select decisions, list every stimulus.

The plan is plain JSON. It fixes everything the later steps need, the chunks included,
so a chunk gives the same bytes whichever process or machine renders it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from explainer.bundle.facts import add_clip_facts, corpus_facts
from explainer.bundle.prediction import predict_candidates
from explainer.errors import UserError
from explainer.selection import Candidate, Design, Selection, candidate_speakers, select

CHUNK_SIZE = 16  # stimuli explained in one batch; fixed by the plan, not by --workers


class RenderOptions:
    """How files are rendered: colour map, envelope, playback rate, loudness."""

    def __init__(
        self,
        colormap: str = "red-blue",
        envelope_ms: float = 20.0,
        playback_rate: int = 8000,
        loudness_matching: str = "rms",
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
        if loudness_matching not in audio_checks.LOUDNESS_MATCHING:
            raise UserError(
                f"--loudness must be one of {', '.join(audio_checks.LOUDNESS_MATCHING)}, got {loudness_matching!r}"
            )
        self.values = {
            "colormap": colormap,
            "envelope_ms": float(envelope_ms),
            "playback_rate": int(playback_rate),
            "target_rms_dbfs": audio_checks.TARGET_RMS_DBFS,
            "peak_ceiling_dbfs": audio_checks.PEAK_CEILING_DBFS,
            "loudness_matching": loudness_matching,
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
    compare_run_dir: Path | None = None,
    roles: tuple[str, str] = ("cued", "control"),
) -> dict[str, Any]:
    """Predict the candidates, select decisions and list every stimulus to make.

    With ``compare_run_dir``, the same recordings are also explained with that run's
    model: its stimuli carry ``model_id`` ``roles[1]`` (the manifest's ``models``), the
    main model gets role ``roles[0]``, and the compared model is the recogniser of
    ``label_audible``.

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
    refuse_inapplicable(run, methods)
    table = open_corpus(Path(data_dir))
    split = run.config["split"]
    speakers = candidate_speakers(split, design.split, table.speakers())
    if not speakers:
        raise UserError(
            f"{data_dir}: none of the run's {design.split} speakers ({', '.join(split.get('test', []))}) has recordings here"
        )
    candidates = predict_candidates(run, table.where(speakers=speakers))
    selection = select(candidates, run.classes, design, seed)
    stimuli = _stimuli(selection.main, selection.practice, design.methods)
    model = describe_model(run)
    extra: dict[str, Any] = {"recogniser": _recogniser(run, "bundle's own")}
    if compare_run_dir is not None:
        compare = load_run_cached(str(Path(compare_run_dir).resolve()))
        refuse_inapplicable(compare, methods)
        _check_comparable(run, compare, roles)
        stimuli += _compared_stimuli(compare, table, selection, design, roles[1])
        model["role"] = roles[0]
        extra["models"] = {roles[1]: {**describe_model(compare), "role": roles[1]}}
        extra["runs"] = {roles[1]: _recogniser(compare, roles[1])}
        extra["recogniser"] = _recogniser(compare, roles[1])
    facts = corpus_facts(table.root)
    add_clip_facts(stimuli, facts)
    if facts["cue"]:
        extra["cue"] = facts["cue"]["cue"]
    record = _selection_record(selection, design, seed, len(candidates), speakers)
    record["wrong_decision_sources"] = wrong_decision_sources(run, design, facts)
    return {
        **extra,
        "run_dir": str(Path(run_dir).resolve()),
        "data_root": str(Path(table.root).resolve()),
        "representation": run.representation,
        "classes": list(run.classes),
        "model": model,
        "methods": methods,
        "target": design.target,
        "render": (render or RenderOptions().as_dict()),
        "selection": record,
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


def refuse_inapplicable(run: Any, methods: Iterable[str]) -> None:
    """A :class:`UserError` with the reason when a method cannot explain the run's model."""
    from explainer.relevance import get_method, method_refusal

    for name in methods:
        reason = method_refusal(run.model, get_method(name).family)
        if reason is not None:
            raise UserError(f"method {name} cannot explain the model of {run.run_dir}: {reason}")


def _recogniser(run: Any, role: str) -> dict[str, Any]:
    """The model that judges whether the spoken digit is audible in an audible heatmap."""
    return {
        "run_dir": str(Path(run.run_dir).resolve()),
        "weights_sha256": run.weights_sha256,
        "role": role,
    }


def describe_model(run: Any) -> dict[str, Any]:
    """The manifest's ``model`` object."""
    from explainer import preprocessing as pp

    described = run.data_description
    training_data = {
        "description": described["description"],
        "fingerprint": described["fingerprint"],
    }
    for key in ("n_recordings", "split"):
        if key in described:
            training_data[key] = described[key]
    accuracy = run.test_accuracy
    # A researcher's waveform model may read another rate and window (explainer.own_model).
    declared = run.config.get("model_spec") or {}
    return {
        "architecture": run.architecture,
        "task": run.task,
        "input": run.representation,
        "classes": list(run.classes),
        "weights_sha256": run.weights_sha256,
        "test_accuracy": None if accuracy is None else round(float(accuracy), 6),
        "training_data": training_data,
        "width": run.width,
        "sample_rate": declared.get("sample_rate", pp.SAMPLE_RATE),
        "window_samples": declared.get("window_samples", pp.WINDOW),
    }


def wrong_decision_sources(run: Any, design: Design, facts: dict[str, Any]) -> dict[str, Any]:
    """Where the candidates' wrong decisions can come from, for the manifest's ``selection``."""
    from explainer import run_files as rf
    from explainer.milestones import MILESTONE_FILE

    sources: dict[str, Any] = {"candidate_pool": design.split}
    if facts["cue"]:
        sources["cue_conflict"] = "cue-conflict clips of the probe corpus (stimulus cue.role)"
    if facts["degradation"]:
        degradation = facts["degradation"]
        sources["noise"] = {
            "noise": degradation["noise"],
            "snr_db": degradation["snr_db"],
            "seed": degradation["seed"],
        }
    milestone = Path(run.run_dir) / MILESTONE_FILE
    if milestone.is_file():
        sources["checkpoint"] = rf.read_json(milestone)
    return sources


def _check_comparable(run: Any, compare: Any, roles: tuple[str, str]) -> None:
    if len(set(roles)) != 2 or not all(roles):
        raise UserError(f"--role and --compare-role must be two different names, got {list(roles)}")
    if (compare.task, list(compare.classes)) != (run.task, list(run.classes)):
        raise UserError(
            f"--compare-run {compare.run_dir}: task {compare.task} differs from the run's {run.task}"
        )
    if compare.weights_sha256 == run.weights_sha256:
        raise UserError(f"--compare-run {compare.run_dir}: the same weights as --run")


def _compared_stimuli(
    compare: Any, table: Any, selection: Selection, design: Design, role: str
) -> list[dict[str, Any]]:
    """The compared model's decisions on the selected recordings, as stimuli of ``role``."""
    wanted = {c.relpath for c in selection.main + selection.practice}
    decided = {
        c.relpath: c for c in predict_candidates(compare, [r for r in table if r.relpath in wanted])
    }
    main = [decided[c.relpath] for c in selection.main]
    practice = [decided[c.relpath] for c in selection.practice]
    return _stimuli(main, practice, design.methods, model_id=role)


def _stimuli(
    main: Sequence[Candidate],
    practice_decisions: Sequence[Candidate],
    methods: Sequence[str],
    model_id: str | None = None,
) -> list[dict[str, Any]]:
    from explainer import preprocessing as pp

    stimuli = []
    suffix = f"-{model_id}" if model_id else ""
    for practice, decisions in ((False, main), (True, practice_decisions)):
        for method in methods:
            for c in decisions:
                stem = Path(c.relpath).stem
                stimuli.append(
                    {
                        "id": f"{stem}-{method}{suffix}" + ("-practice" if practice else ""),
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
                        **({"model_id": model_id} if model_id else {}),
                    }
                )
    return stimuli


def plan_chunks(stimuli: Sequence[dict[str, Any]], chunk_size: int = CHUNK_SIZE) -> list[list[int]]:
    """Consecutive stimuli of one method and model, at most ``chunk_size`` per chunk."""
    chunks: list[list[int]] = []
    for index, stim in enumerate(stimuli):
        first = stimuli[chunks[-1][0]] if chunks else {}
        if (
            chunks
            and len(chunks[-1]) < chunk_size
            and (first["method"], first.get("model_id")) == (stim["method"], stim.get("model_id"))
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
