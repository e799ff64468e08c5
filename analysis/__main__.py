"""Command line: ``python -m analysis report|power|simulate ...``.

Bad arguments or input print one line, ``error: ...``, on stderr and exit with
status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from analysis.power import Pilot, PowerModel


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage dump) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see python -m analysis --help)", file=sys.stderr)
        raise SystemExit(2)


def _counts(what: str) -> Callable[[str], list[int]]:
    """A parser of comma-separated integers >= 2 (a grid of ``what``)."""

    def parse(text: str) -> list[int]:
        try:
            values = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated integers, got {text!r}"
            ) from None
        if not values or min(values) < 2:
            raise argparse.ArgumentTypeError(f"{what} must be integers >= 2, got {text!r}")
        return values

    return parse


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


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
    _add_power(
        sub.add_parser("power", help="simulation-based power for a two-condition crossed design")
    )
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


def _add_power(pw: argparse.ArgumentParser) -> None:
    pw.add_argument(
        "--pilot",
        type=Path,
        help="pilot export: the model (intercept, effect, SDs) is fitted to it",
    )
    pw.add_argument(
        "--participants",
        type=_counts("participant counts"),
        required=True,
        help="total participants, e.g. 20,40,80",
    )
    pw.add_argument(
        "--trials",
        type=int,
        help="main trials per participant (at most the pool; default with --pilot: "
        "the pilot's share of the pool)",
    )
    pw.add_argument(
        "--stimuli",
        type=_counts("stimulus counts"),
        help="stimulus pool sizes, e.g. 20,40,80 (default: the pilot's, or max(trials, 40))",
    )
    pw.add_argument(
        "--difference",
        type=float,
        help="accuracy difference to detect, e.g. 0.1 (default with --pilot: the pilot's)",
    )
    pw.add_argument("--baseline", type=float, help="reference-condition accuracy (default 0.6)")
    pw.add_argument(
        "--sd-participant", type=float, help="between-participant SD, log-odds (default 0.8)"
    )
    pw.add_argument("--sd-stimulus", type=float, help="between-stimulus SD, log-odds (default 0.5)")
    pw.add_argument(
        "--design", choices=["between", "within"], help="default: the pilot's, or between"
    )
    pw.add_argument("--levels", type=_names, help="with --pilot: the two conditions, REF,OTHER")
    pw.add_argument("--config", type=Path, help="with --pilot: exclusions config")
    pw.add_argument(
        "--mde", action="store_true", help="also the minimal detectable effect of every cell"
    )
    pw.add_argument("--target", type=float, default=0.8, help="target power of --mde")
    pw.add_argument("--method", choices=["glmm", "gee", "welch"], default="glmm")
    pw.add_argument("--sims", type=int, default=200)
    pw.add_argument("--alpha", type=float, default=0.05)
    pw.add_argument("--seed", type=int, default=0)
    pw.add_argument("--quiet", action="store_true", help="no progress bars")
    pw.add_argument("--out", type=Path, help="folder for power.csv, power.png (and mde.csv)")


_ASSUMED = {"baseline": 0.6, "sd_participant": 0.8, "sd_stimulus": 0.5}
_SHOWN = ["n_participants", "n_stimuli", "n_trials", "difference", "method", "n_sims"]


def _power_model(args: argparse.Namespace) -> tuple[PowerModel, dict[str, object]]:
    """The model to simulate from and how the grid's cells are sized."""
    from analysis.exclusions import load_exclusion_config
    from analysis.power import PowerModel, load_pilot

    if args.sims < 1 or (args.trials is not None and args.trials < 1):
        raise ValueError("--trials and --sims must be positive")
    if args.pilot is None:
        if args.trials is None or args.difference is None:
            raise ValueError("without --pilot, --trials and --difference are required")
        if args.levels or args.config:
            raise ValueError("--levels and --config need --pilot")
        assumed = {
            k: v if getattr(args, k) is None else getattr(args, k) for k, v in _ASSUMED.items()
        }
        model = PowerModel.from_accuracies(
            difference=args.difference, design=args.design or "between", **assumed
        )
        return model, {"stimuli": args.stimuli or [max(args.trials, 40)], "trials": args.trials}
    given = [f"--{k.replace('_', '-')}" for k in _ASSUMED if getattr(args, k) is not None]
    if given:
        raise ValueError(f"{', '.join(given)}: with --pilot these come from the pilot")
    config = load_exclusion_config(args.config) if args.config else None
    pilot = load_pilot(args.pilot, levels=args.levels, design=args.design, config=config)
    model = pilot.model if args.difference is None else pilot.model.with_difference(args.difference)
    print(_pilot_line(pilot))
    cells = {"stimuli": args.stimuli or [pilot.n_stimuli], "trials": args.trials}
    return model, {**cells, "share": pilot.share if args.trials is None else None}


def _pilot_line(pilot: Pilot) -> str:
    d = pilot.to_dict()
    return (
        f"pilot: {d['n_participants']} participants, {d['n_stimuli']} stimuli, "
        f"{d['trials_per_participant']} trials each, {d['pilot_design']}; "
        f"accuracy {d['levels'][0]} {d['baseline']:.3f}, difference {d['difference']:+.3f} "
        f"(OR {d['odds_ratio']:.2f}, p = {d['effect_p_value']:.3g}); "
        f"SD participant {d['sd_participant']:.2f}, SD stimulus {d['sd_stimulus']:.2f}"
    )


def _power(args: argparse.Namespace) -> int:
    from analysis.figures import power_figure
    from analysis.power import PowerRuns, mde_table, power_grid

    model, cells = _power_model(args)
    if not 0 < args.target < 1:
        raise ValueError(f"--target must lie in (0, 1), got {args.target}")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ValueError(f"{args.out}: exists and is not a folder")
    runs = PowerRuns(
        n_sims=args.sims,
        alpha=args.alpha,
        method=args.method,
        seed=args.seed,
        progress=not args.quiet,
    )
    grid = (args.participants, cells.pop("stimuli"))
    table = power_grid(model, *grid, **cells, runs=runs)  # type: ignore[arg-type]
    print(table[[*_SHOWN, "power", "ci_low", "ci_high"]].to_string(index=False))
    mde = None
    if args.mde:
        mde = mde_table(model, *grid, **cells, target=args.target, runs=runs)  # type: ignore[arg-type]
        shown = [*_SHOWN[:3], "target", "effect", "odds_ratio", "difference", "power"]
        print(mde[shown].to_string(index=False))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "power.csv", index=False)
        power_figure(table, args.out / "power.png")
        if mde is not None:
            mde.to_csv(args.out / "mde.csv", index=False)
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
