"""``python -m explainer cue-eval``: how much a model relies on a planted cue.

    python -m explainer cue-eval --run RUN_DIR --data CUE_DIR/probe [--method M] [--out FILE]

On the probe corpus of ``python -m explainer cue`` it reports (one JSON object):

- ``clean_accuracy``: accuracy on the clean held-out clips;
- ``cue_following_share``: on cue-conflict clips (digit A spoken, cue of class B), the
  share of decisions that follow the cue (B); ``spoken_following_share`` the share that
  follow the spoken digit (A);
- ``relevance_in_cue``: the mean share of |relevance| (of the predicted class, with
  ``--method``) inside the cue's time span, and its frequency band for spectrogram
  models, on cue-conflict clips; ``cue_area_share`` is the share of the input that span
  covers, the value a relevance spread evenly would give.

:func:`relevance_in_cue` and :func:`decision_basis` also fill the bundle's per-stimulus
fields.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from explainer import preprocessing as pp
from explainer.errors import UserError

BATCH = 32


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--run", type=Path, required=True, help="trained run folder")
    add("--data", type=Path, required=True, help="probe corpus written by python -m explainer cue")
    add("--method", default="lrp-epsilon-plus-flat", help="explanation method for relevance_in_cue")
    add("--out", type=Path, help="also write the JSON object to this file")


def run(args: argparse.Namespace) -> int:
    from explainer.training import load_run

    result = cue_reliance(load_run(args.run), args.data, method=args.method)
    text = json.dumps(result, indent=1, sort_keys=True)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def window_cue(cue: dict[str, Any], offset_samples: int) -> dict[str, Any]:
    """A clip's cue record (clip seconds) moved to the model's window (window seconds)."""
    shift = offset_samples / pp.SAMPLE_RATE
    moved = dict(cue)
    moved["start_s"] = round(max(0.0, cue["start_s"] + shift), 6)
    moved["end_s"] = round(min(pp.WINDOW / pp.SAMPLE_RATE, cue["end_s"] + shift), 6)
    return moved


def cue_mask(cue: dict[str, Any], representation: str) -> np.ndarray:
    """Boolean mask of the cue in the network input (``(8000,)`` or ``(227, 227)``).

    ``cue`` is in window seconds (:func:`window_cue`). A spectrogram frame belongs to the
    cue when its analysis window overlaps the span, a frequency bin when it lies within
    two bins (the Hann window's main lobe) of the band.
    """
    start, end = cue["start_s"] * pp.SAMPLE_RATE, cue["end_s"] * pp.SAMPLE_RATE
    if representation == "waveform":
        samples = np.arange(pp.WINDOW)
        return (samples >= start) & (samples < end)
    # The STFT smears the cue by its own resolution: a frame whose Hann window overlaps the
    # span, a bin within the window's main lobe (two bins) of the band, holds cue energy.
    frames = (np.arange(pp.N_FREQ) + pp.FRAME_SLICE.start) * pp.HOP  # centre sample per column
    bin_hz = pp.SAMPLE_RATE / pp.NPERSEG
    bins = np.arange(pp.N_FREQ) * bin_hz  # Hz per row
    low = cue.get("low_hz", 0.0) - 2 * bin_hz
    high = cue.get("high_hz", pp.SAMPLE_RATE / 2) + 2 * bin_hz
    in_band = (bins >= low) & (bins <= high)
    in_span = (frames + pp.NPERSEG / 2 > start) & (frames - pp.NPERSEG / 2 < end)
    return in_band[:, None] & in_span[None, :]


def relevance_in_cue(relevance: np.ndarray, cue: dict[str, Any], representation: str) -> float:
    """Share of ``|relevance|`` inside the cue (0 when the relevance is all zero).

    Parameters
    ----------
    relevance
        ``(8000,)`` per sample, ``(227, 227)`` per bin or ``(64, 227)`` per mel band, as
        the network input (mel bands are spread over the STFT bins first).
    cue
        The cue in window seconds, with ``low_hz``/``high_hz`` for spectrograms.
    """
    magnitude = np.abs(np.asarray(relevance, dtype=np.float64))
    if representation == "logmel":
        from explainer.logmel import relevance_on_stft_grid

        magnitude, representation = relevance_on_stft_grid(magnitude), "spectrogram"
    total = float(magnitude.sum())
    if total == 0:
        return 0.0
    return round(float(magnitude[cue_mask(cue, representation)].sum()) / total, 6)


def decision_basis(true_label: str, predicted: str, cue_class: str | None) -> str:
    """What explains the decision: ``spoken``, ``cue``, ``both`` (they agree) or ``neither``."""
    spoken, cue = predicted == true_label, cue_class is not None and predicted == cue_class
    return "both" if spoken and cue else "spoken" if spoken else "cue" if cue else "neither"


def cue_reliance(run: Any, probe: Path, *, method: str = "lrp-epsilon-plus-flat") -> dict[str, Any]:
    """The numbers of ``cue-eval`` for ``run`` on the probe corpus ``probe`` (see module doc)."""
    from explainer.cue_corpus import read_cue_file
    from explainer.data import load_recordings

    record = read_cue_file(probe)
    if record is None:
        raise UserError(f"{probe}: no cue.json; give the probe corpus of python -m explainer cue")
    table = load_recordings(probe, progress=False)
    test = set(run.test_speakers)
    recordings = [r for r in table if r.speaker in test]
    if not recordings:
        raise UserError(
            f"{probe}: none of the run's test speakers ({', '.join(sorted(test))}) is here"
        )
    clips = record["clips"]
    clean = [r for r in recordings if r.relpath not in clips]
    conflict = [r for r in recordings if clips.get(r.relpath, {}).get("role") == "conflict"]
    clean_pred, _ = _decide(run, clean, None, method)
    conflict_pred, shares = _decide(run, conflict, clips, method)
    cue_classes = [clips[r.relpath]["class"] for r in conflict]
    spoken = [str(r.digit) for r in conflict]
    cue = record["cue"]
    return {
        "run": str(run.run_dir),
        "probe": str(probe),
        "method": method,
        "cue": cue,
        "n_clean": len(clean),
        "clean_accuracy": _mean(
            [p == str(r.digit) for p, r in zip(clean_pred, clean, strict=True)]
        ),
        "n_conflict": len(conflict),
        "cue_following_share": _mean(
            [p == c for p, c in zip(conflict_pred, cue_classes, strict=True)]
        ),
        "spoken_following_share": _mean(
            [p == s for p, s in zip(conflict_pred, spoken, strict=True)]
        ),
        "relevance_in_cue": _mean(shares),
        "cue_area_share": _mean([_area(clips[r.relpath], run.representation) for r in conflict]),
    }


def _decide(
    run: Any, recordings: list[Any], clips: dict[str, Any] | None, method: str
) -> tuple[list[str], list[float]]:
    """Predicted labels, and (given ``clips``) each clip's relevance share inside its cue."""
    import torch
    from tqdm import tqdm

    from explainer.relevance import explain

    predicted: list[str] = []
    shares: list[float] = []
    for start in tqdm(
        range(0, len(recordings), BATCH), desc="cue-eval", file=sys.stderr, disable=None
    ):
        batch = recordings[start : start + BATCH]
        prepared = [run.prepare(r.path, r.relpath) for r in batch]
        inputs = torch.from_numpy(np.stack([p[1] for p in prepared]).astype(np.float32)).unsqueeze(
            1
        )
        if clips is None:
            with torch.no_grad():
                logits = run.model(inputs)
            predicted += [run.classes[int(i)] for i in logits.argmax(1)]
            continue
        result = explain(run.model, inputs, method)
        predicted += [run.classes[int(i)] for i in result.targets]
        for rec, (_, _, offset), rel in zip(
            batch, prepared, result.relevance.squeeze(1).numpy(), strict=True
        ):
            shares.append(
                relevance_in_cue(rel, window_cue(clips[rec.relpath], offset), run.representation)
            )
    return predicted, shares


def _area(cue: dict[str, Any], representation: str) -> float:
    return float(cue_mask(window_cue(cue, 0), representation).mean())


def _mean(values: list[Any]) -> float | None:
    return round(float(np.mean(values)), 6) if values else None
