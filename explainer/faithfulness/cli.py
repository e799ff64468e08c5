"""``python -m explainer faithfulness``: relevance-guided perturbation of a run's held-out clips.

    python -m explainer faithfulness --run RUN --data CORPUS --methods M1,M2 --out DIR
        [--step-share 0.05 --max-share 0.5 --replacement zero --seed 0 --n-clips N --sanity]
    python -m explainer faithfulness --run RUN --data CORPUS --bundle BUNDLE --out DIR

Writes ``DIR/curves.csv`` (one row per method, order, clip and step), ``DIR/summary.json``
(AOPC of MoRF and LeRF per method with bootstrap intervals, the random baseline, the
settings; the planted-cue check when the corpus has ``cue.json``; with ``--sanity`` the
model-parameter randomisation) and ``DIR/curves.png``; for spectrogram models also
``DIR/bands.csv`` and ``DIR/bands.png``. Everything is written to a temporary folder
first and renamed to DIR at the end, so an interrupted run leaves no DIR.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from explainer import run_files as rf
from explainer.errors import UserError
from explainer.faithfulness.curves import Steps
from explainer.faithfulness.replacement import REPLACEMENTS
from explainer.faithfulness.settings import Settings

SANITY_CLIPS = 8


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--run", type=Path, required=True, help="trained run folder")
    add(
        "--data",
        type=Path,
        required=True,
        help="corpus holding the run's test speakers (or the bundle's recordings)",
    )
    add(
        "--methods",
        help="comma-separated explanation methods (default with --bundle: the bundle's)",
    )
    add("--bundle", type=Path, help="score this bundle's stimuli instead of the held-out clips")
    add("--out", type=Path, required=True, help="output folder (must not exist)")
    add(
        "--step-share",
        type=float,
        default=0.05,
        help="share of the regions removed per step (default 0.05)",
    )
    add("--max-share", type=float, default=0.5, help="share removed at the last step (default 0.5)")
    add(
        "--replacement",
        default="zero",
        help=f"what removed regions become: {', '.join(REPLACEMENTS)} (default zero)",
    )
    add(
        "--seed",
        type=int,
        default=0,
        help="seed of the random order, noise, clip sample and bootstrap (default 0)",
    )
    add(
        "--n-clips",
        type=int,
        help="score a seeded sample of this many held-out clips (default all)",
    )
    add(
        "--sanity",
        action="store_true",
        help=f"also run the model-parameter randomisation check (on {SANITY_CLIPS} clips)",
    )


def run(args: argparse.Namespace) -> int:
    settings = Settings(Steps(args.step_share, args.max_share), args.replacement, args.seed)
    methods = _methods(args.methods)
    if args.bundle is None and not methods:
        raise UserError("--methods is required (or --bundle BUNDLE to score a bundle's stimuli)")
    if args.n_clips is not None and args.n_clips < 2:
        raise UserError(
            f"--n-clips must be at least 2 (for a confidence interval), got {args.n_clips}"
        )
    if args.out.exists():
        raise UserError(f"{args.out}: already exists; choose a new folder")
    from explainer.training import load_run

    trained = load_run(args.run)
    outputs = compute(trained, args, methods, settings)
    _write(args.out, outputs, settings)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _methods(text: str | None) -> list[str]:
    from explainer.relevance import get_method

    names = [m.strip() for m in (text or "").split(",") if m.strip()]
    for name in names:
        try:
            get_method(name)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    return names


def compute(
    trained: Any, args: argparse.Namespace, methods: list[str], settings: Settings
) -> dict[str, Any]:
    """Every result of one command, in memory (nothing is written here)."""
    from explainer.cue_corpus import read_cue_file
    from explainer.faithfulness.clips import bundle_clips, held_out_clips
    from explainer.faithfulness.experiment import run_experiment

    cue = None
    if args.bundle is not None:
        clips, _ = bundle_clips(trained, args.bundle, args.data, methods or None)
        source = {"bundle": str(args.bundle)}
    else:
        clips, _ = held_out_clips(
            trained, args.data, methods, n_clips=args.n_clips, seed=settings.seed
        )
        source = {"split": "test", "test_speakers": trained.test_speakers}
        cue = read_cue_file(args.data)
    result = run_experiment(trained.model, trained.representation, clips, settings)
    summary: dict[str, Any] = {
        "run": str(args.run),
        "data": str(args.data),
        **source,
        "architecture": trained.architecture,
        "task": trained.task,
        "n_clips": len(clips.keys),
        "explained_class": "bundle's" if args.bundle else "predicted",
        "settings": settings.record(trained.representation),
        "shares": settings.steps.shares.tolist(),
        "methods": result["summary"],
    }
    outputs: dict[str, Any] = {"rows": result["rows"], "summary": summary}
    if trained.representation == "spectrogram":
        from explainer.faithfulness.bands import band_test

        outputs["bands"] = band_test(trained.model, clips, result["relevance"])
        summary["bands"] = outputs["bands"]
    if cue is not None:
        from explainer.faithfulness.cue_check import cue_check

        summary["cue"] = cue_check(
            trained.model,
            trained.representation,
            clips,
            cue["clips"],
            trained.classes,
            result["relevance"],
            settings,
        )
    if args.sanity:
        summary["sanity"] = sanity(trained.model, clips, settings.seed)
    return outputs


def sanity(model: Any, clips: Any, seed: int) -> dict[str, Any]:
    """The randomisation check per method on the first :data:`SANITY_CLIPS` of its clips."""
    from tqdm import tqdm

    from explainer.faithfulness.sanity import cascading_randomisation

    out = {}
    for method, index in tqdm(
        clips.methods.items(), desc="randomisation", file=sys.stderr, disable=None
    ):
        idx = index[:SANITY_CLIPS]
        out[method] = cascading_randomisation(
            model,
            clips.inputs[idx],
            clips.targets[idx],
            method,
            clips.params.get(method),
            seed=seed,
        )
    return out


def _write(out: Path, outputs: dict[str, Any], settings: Settings) -> None:
    """Write every file into a temporary sibling folder, then rename it to ``out``."""
    from explainer.faithfulness.experiment import CSV_COLUMNS
    from explainer.faithfulness.figures import plot_bands, plot_curves

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        rf.write_csv(tmp / "curves.csv", CSV_COLUMNS, outputs["rows"])
        rf.write_json(tmp / "summary.json", outputs["summary"])
        plot_curves(
            outputs["summary"]["methods"], settings.steps.shares.tolist(), tmp / "curves.png"
        )
        if "bands" in outputs:
            rows = [
                {**r, "most_relevant_for": ";".join(r["most_relevant_for"])}
                for r in outputs["bands"]["rows"]
            ]
            from explainer.faithfulness.bands import BAND_COLUMNS

            rf.write_csv(
                tmp / "bands.csv", BAND_COLUMNS, [{k: r[k] for k in BAND_COLUMNS} for r in rows]
            )
            plot_bands(
                outputs["bands"]["rows"], outputs["bands"]["baseline_accuracy"], tmp / "bands.png"
            )
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
