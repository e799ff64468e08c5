"""``python -m explainer bundle``: explain a balanced set of decisions and write a stimulus bundle.

python -m explainer bundle --run RUN_DIR --data DIR --out BUNDLE_DIR [--n N --seed S]
python -m explainer bundle --validate BUNDLE_DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contracts import bundle_format as bf
from explainer.audio_checks import LOUDNESS_MATCHING
from explainer.bundle.planning import RenderOptions, plan_bundle
from explainer.bundle.pool import worker_pool
from explainer.bundle.validation import validate_bundle
from explainer.bundle.writing import write_bundle
from explainer.errors import UserError
from explainer.faithfulness.playback import summary_line
from explainer.milestones import pick_milestone
from explainer.selection import SHORTFALL_POLICIES, SPLITS, Design


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--validate",
        metavar="BUNDLE_DIR",
        type=Path,
        help="check an existing bundle and list every problem",
    )
    add_plan_options(parser)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--sanity",
        action="store_true",
        help="also run the model-parameter randomisation check per method (faithfulness.sanity)",
    )


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    """The options that make a plan and its rendering, shared with ``bundle-distributed``."""
    parser.add_argument(
        "--run", type=Path, help="trained run folder (from python -m explainer train)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="corpus (folder in any layout, or CSV manifest) holding the run's speakers",
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
        "--every",
        action="store_true",
        help="explain every candidate recording instead of --n balanced ones (with a CSV "
        "manifest of chosen files and --split all: exactly those files)",
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
        default="error",
        help="a cell with too few candidates: error (default), or fill from the same class's other cell",
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
    parser.add_argument(
        "--loudness",
        choices=LOUDNESS_MATCHING,
        default="rms",
        help="give original and audible heatmap one loudness by integrated loudness (bs1770, ITU-R BS.1770) or by RMS (default rms)",
    )
    parser.add_argument(
        "--checkpoint-accuracy",
        type=float,
        metavar="A",
        help="explain the run's accuracy-milestone checkpoint whose test accuracy is closest to A",
    )
    parser.add_argument(
        "--compare-run",
        type=Path,
        help="a second run (e.g. the control model) whose model explains the same recordings",
    )
    parser.add_argument(
        "--role", default="cued", help="role of --run's model with --compare-run (default cued)"
    )
    parser.add_argument(
        "--compare-role",
        default="control",
        help="role and model id of --compare-run's model (default control)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing bundle folder"
    )


def run(args: argparse.Namespace) -> int:
    if args.validate is not None:
        return _run_validate(args.validate)
    require_plan_options(args, alternative=" (or --validate BUNDLE_DIR)")
    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    design = design_from_args(args)
    options = render_options_from_args(args)
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
            **compare_from_args(args),
        )
        warn_shortfall(spec)
        if args.sanity:
            from explainer.faithfulness.sanity import bundle_sanity

            spec["faithfulness_sanity"] = bundle_sanity(spec)
        result = write_bundle(spec, args.out, overwrite=args.overwrite, pool=pool)
    warn_heard_label_baseline(result["manifest"])
    report_audible(result["manifest"])
    print(
        f"wrote {args.out}: {len(spec['stimuli'])} stimuli ({result['n_files']} files)",
        file=sys.stderr,
    )
    return 0


def require_plan_options(args: argparse.Namespace, *, alternative: str = "") -> None:
    """``--run``, ``--data`` and ``--out`` are given, or one :class:`UserError` names those missing.

    With ``--checkpoint-accuracy``, ``args.run`` becomes the chosen milestone run folder.
    """
    missing = [
        flag
        for flag, value in (("--run", args.run), ("--data", args.data), ("--out", args.out))
        if value is None
    ]
    if missing:
        raise UserError(f"{', '.join(missing)} required{alternative}")
    if args.checkpoint_accuracy is not None:
        args.run = pick_milestone(args.run, args.checkpoint_accuracy)
        print(f"checkpoint: {args.run}", file=sys.stderr)


def design_from_args(args: argparse.Namespace) -> Design:
    """The selection design from the options of :func:`add_plan_options`."""
    return Design(
        n_decisions=args.n,
        incorrect_fraction=args.incorrect_fraction,
        practice=args.practice,
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
        split=args.split,
        target=args.target,
        shortfall=args.shortfall,
        every=args.every,
    )


def compare_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """``plan_bundle``'s model-comparison arguments from the options of :func:`add_plan_options`."""
    return {"compare_run_dir": args.compare_run, "roles": (args.role, args.compare_role)}


def render_options_from_args(args: argparse.Namespace) -> RenderOptions:
    """The render options from the options of :func:`add_plan_options`."""
    return RenderOptions(args.colormap, args.envelope_ms, args.playback_rate, args.loudness)


def warn_shortfall(spec: dict[str, Any]) -> None:
    """One summary line on stderr naming the selection cells filled from their class's other cell."""
    lines = spec["selection"]["shortfall"]
    if lines:
        print(
            f"warning: --shortfall fill: {len(lines)} cell(s) had too few candidates and were "
            f"filled from the same class's other cell: {'; '.join(lines)}",
            file=sys.stderr,
        )


def warn_heard_label_baseline(manifest: dict[str, Any]) -> None:
    """Warn on stderr for each task whose heard-label baseline is 0.9 or more (the contract's rule)."""
    for line in bf.heard_label_baseline_warnings(manifest):
        print(f"warning: {line}", file=sys.stderr)


def report_audible(manifest: dict[str, Any]) -> None:
    """On stderr: the playback summary (one line), and a warning naming the pairs whose
    BS.1770 loudness matching fell back to RMS."""
    print(summary_line(manifest["faithfulness"]["playback"]["summary"]), file=sys.stderr)
    fallback = [s["id"] for s in manifest["stimuli"] if "fallback" in s["audio_checks"]["loudness"]]
    if fallback:
        print(
            f"warning: {len(fallback)} pair(s) matched on RMS, their BS.1770 loudness being "
            f"undefined (shorter than 400 ms or silent), e.g. {fallback[0]}",
            file=sys.stderr,
        )


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
