"""``python -m explainer predict --run RUN FILES...``: classify new WAV files with a trained run.

Placement is deterministic and independent of the file's name: a clip shorter than the
window is centred; a longer one is cropped by the run's long-clip policy (a "random"
crop draws from a generator seeded by the run's seed and the decoded audio, and a run
that refused long clips crops by energy, the choice that keeps the voiced part).
Output: one row per file with the predicted class, its probability and every class's
probability, as CSV (default) or JSON. Probabilities are the softmax of the logits
divided by the run's temperature (fitted on its validation speakers,
:mod:`explainer.calibration`; 1 for a run without one); the JSON names it.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from explainer import preprocessing as pp
from explainer.calibration import softmax
from explainer.data import DataError, read_audio


@dataclass(frozen=True)
class PlacedClip:
    """One file read at 8 kHz and placed: window ``(8000,)`` and the offset used."""

    path: Path
    window: np.ndarray
    offset: int
    duration_s: float


def clip_place(audio: np.ndarray, *, policy: str, seed: int) -> tuple[np.ndarray, int]:
    """Place ``audio`` ``(n_samples,)`` at 8 kHz deterministically (see the module docstring).

    Returns the window ``(8000,)`` float32 and the offset (window position j holds clip
    sample j - offset).
    """
    if audio.shape[0] <= pp.WINDOW:
        return pp.place_in_window(audio, offset=pp.centred_offset(audio.shape[0]))
    policy = "energy" if policy == "refuse" else policy
    content = int.from_bytes(hashlib.sha256(audio.tobytes()).digest()[:8], "little")
    rng = np.random.default_rng([seed, content])
    return pp.place_in_window(audio, rng=rng, long_clips=policy)


def files_place(paths: list[Path], *, policy: str, seed: int) -> list[PlacedClip]:
    """Read and place every file; raises :class:`DataError` naming every unusable file."""
    placed, problems = [], []
    for path in paths:
        try:
            audio = read_audio(path, target_sr=pp.SAMPLE_RATE)
        except DataError as exc:
            problems += exc.problems
            continue
        if audio.shape[0] == 0:
            problems.append(f"{path}: contains no audio samples")
            continue
        window, offset = clip_place(audio, policy=policy, seed=seed)
        placed.append(PlacedClip(path, window, offset, audio.shape[0] / pp.SAMPLE_RATE))
    if problems:
        raise DataError(problems)
    return placed


def predictions(run: Any, clips: list[PlacedClip]) -> list[dict[str, Any]]:
    """One row per clip: file, predicted class, its probability, offset and each class's probability."""
    inputs = np.stack([pp.model_input(c.window, run.representation) for c in clips])
    probs = softmax(run.predict(inputs), run.temperature)
    rows = []
    for clip, p in zip(clips, probs, strict=True):
        best = int(p.argmax())
        rows.append(
            {
                "file": str(clip.path),
                "predicted": run.classes[best],
                "probability": round(float(p[best]), 6),
                "duration_s": round(clip.duration_s, 4),
                "offset": clip.offset,
                "probabilities": {
                    c: round(float(v), 6) for c, v in zip(run.classes, p, strict=True)
                },
            }
        )
    return rows


def rows_to_csv(rows: list[dict[str, Any]], classes: list[str]) -> str:
    """CSV text: the row's fields, then one ``p_<class>`` column per class."""
    out = io.StringIO()
    names = ["file", "predicted", "probability", "duration_s", "offset"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names + [f"p_{c}" for c in classes])
    for row in rows:
        writer.writerow([row[n] for n in names] + [row["probabilities"][c] for c in classes])
    return out.getvalue()


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--run", type=Path, required=True, help="trained run folder")
    add("files", type=Path, nargs="+", metavar="FILE", help="WAV files to classify")
    add("--format", choices=["csv", "json"], default="csv", help="output format (default csv)")
    add("--out", type=Path, help="write here instead of standard output")


def run(args: argparse.Namespace) -> int:
    from explainer.training import load_run

    trained = load_run(args.run)
    clips = files_place(
        list(args.files),
        policy=pp.long_clip_policy(trained.config),
        seed=int(trained.config["seed"]),
    )
    rows = predictions(trained, clips)
    if args.format == "json":
        text = (
            json.dumps(
                {
                    "run": str(args.run),
                    "classes": trained.classes,
                    "temperature": trained.temperature,
                    "predictions": rows,
                },
                indent=2,
            )
            + "\n"
        )
    else:
        text = rows_to_csv(rows, trained.classes)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
