"""Command line: ``python -m analysis report|power|simulate ...``.

Bad arguments or input print one line, ``error: ...``, on stderr and exit with
status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage dump) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see python -m analysis --help)", file=sys.stderr)
        raise SystemExit(2)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError("participant counts must be integers >= 2")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m analysis``."""
    parser = _Parser(
        prog="python -m analysis",
        description="Statistics, figures and reports from a hearxai export.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rep = sub.add_parser("report", help="write the HTML/Markdown report of an export")
    rep.add_argument(
        "export_dir", type=Path, help="export folder (trials.csv, participants.csv, ...)"
    )
    rep.add_argument("--out", type=Path, required=True, help="report folder to write")
    rep.add_argument("--config", type=Path, help="exclusions config (.toml or .json)")
    rep.add_argument("--format", choices=["html", "md", "both"], default="html")
    rep.add_argument("--quiet", action="store_true", help="no progress bar")
    rep.add_argument(
        "--covariate",
        action="append",
        default=[],
        help="numeric or boolean trials.csv column added to the accuracy model (repeatable)",
    )
    rep.add_argument(
        "--interaction",
        action="append",
        default=[],
        help="trials.csv column (e.g. model_correct, true_label) whose interaction with "
        "condition is tested (repeatable)",
    )
    rep.add_argument(
        "--equivalence-bound",
        type=float,
        help="odds ratio B > 1: test non-significant contrasts for equivalence within [1/B, B]",
    )
    rep.add_argument(
        "--adjust",
        choices=["holm", "tukey"],
        default="holm",
        help="adjustment of pairwise contrasts (default holm)",
    )
    pw = sub.add_parser("power", help="simulation-based power for a two-condition crossed design")
    pw.add_argument(
        "--participants", type=_int_list, required=True, help="total participants, e.g. 20,40,80"
    )
    pw.add_argument("--trials", type=int, required=True, help="main trials per participant")
    pw.add_argument(
        "--difference", type=float, required=True, help="accuracy difference to detect, e.g. 0.1"
    )
    pw.add_argument("--baseline", type=float, default=0.6, help="reference-condition accuracy")
    pw.add_argument(
        "--sd-participant", type=float, default=0.8, help="between-participant SD (log-odds)"
    )
    pw.add_argument("--sd-stimulus", type=float, default=0.5, help="between-stimulus SD (log-odds)")
    pw.add_argument(
        "--stimuli", type=int, default=None, help="stimulus pool size (default max(trials, 40))"
    )
    pw.add_argument("--method", choices=["glmm", "gee", "welch"], default="glmm")
    pw.add_argument("--sims", type=int, default=200)
    pw.add_argument("--alpha", type=float, default=0.05)
    pw.add_argument("--seed", type=int, default=0)
    pw.add_argument("--out", type=Path, help="folder for power.csv and power.png")
    sim = sub.add_parser(
        "simulate", help="write a synthetic export with known effects (for trying things out)"
    )
    sim.add_argument("--out", type=Path, required=True)
    sim.add_argument("--participants", type=int, default=40)
    sim.add_argument("--trials", type=int, default=40)
    sim.add_argument("--stimuli", type=int, default=80)
    sim.add_argument(
        "--effect", type=float, default=0.4, help="log-odds effect of the second condition"
    )
    sim.add_argument("--verification", type=float, default=0.0, help="share of verification trials")
    sim.add_argument("--seed", type=int, default=0)
    return parser


def _report(args: argparse.Namespace) -> int:
    from analysis.exclusions import load_exclusion_config
    from analysis.report import build_report
    from analysis.sections import ReportOptions

    config = load_exclusion_config(args.config) if args.config else None
    formats = ("html", "md") if args.format == "both" else (args.format,)
    options = ReportOptions(
        covariates=tuple(args.covariate),
        interactions=tuple(args.interaction),
        equivalence_bound=args.equivalence_bound,
        adjust=args.adjust,
    )
    out = build_report(
        args.export_dir,
        args.out,
        config=config,
        options=options,
        formats=formats,
        progress=not args.quiet,
    )
    print(out / ("report.html" if "html" in formats else "report.md"))
    return 0


def _power(args: argparse.Namespace) -> int:
    from analysis.figures import power_figure
    from analysis.power import power_curve

    if args.trials < 1 or args.sims < 1:
        raise ValueError("--trials and --sims must be positive")
    table = power_curve(
        args.participants,
        n_trials=args.trials,
        difference=args.difference,
        baseline=args.baseline,
        sd_participant=args.sd_participant,
        sd_stimulus=args.sd_stimulus,
        n_stimuli=args.stimuli,
        n_sims=args.sims,
        alpha=args.alpha,
        method=args.method,
        seed=args.seed,
    )
    print(
        table[
            [
                "n_participants",
                "n_trials",
                "difference",
                "method",
                "n_sims",
                "power",
                "ci_low",
                "ci_high",
            ]
        ].to_string(index=False)
    )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "power.csv", index=False)
        power_figure(table, args.out / "power.png")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from analysis.simulate import SimulationSpec, simulate_export

    spec = SimulationSpec(
        n_participants=args.participants,
        n_trials=args.trials,
        n_stimuli=args.stimuli,
        effects=(0.0, args.effect),
        verification_fraction=args.verification,
        seed=args.seed,
        inattentive_rate=0.05,
        screen_fail_rate=0.05,
        incomplete_rate=0.05,
        fast_rate=0.02,
        pilot_fraction=0.05,
        declined_rate=0.03,
    )
    print(simulate_export(args.out, spec))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler = {"report": _report, "power": _power, "simulate": _simulate}[args.command]
    try:
        return handler(args)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:  # ExportError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
