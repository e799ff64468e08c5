"""``python -m explainer evaluate``: test accuracy per split and over splits, as in the paper.

Give run folders (or folders holding runs, as ``train --split paper:all`` writes them).
Each run's test accuracy is read from its ``summary.json``, or recomputed from the
corpus with ``--data``. Runs are grouped by (model, task); a group reports the mean and
the sample standard deviation (n - 1) over its splits, formatted like the paper's table
("95.82 % ± 1.49 %").
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explainer import run_files as rf
from explainer.errors import UserError

SPLIT_COLUMNS = ("architecture", "task", "split", "n_test", "test_accuracy", "source", "run")
SUMMARY_COLUMNS = (
    "architecture",
    "task",
    "n_splits",
    "mean_accuracy",
    "std_accuracy",
    "paper_format",
)


@dataclass(frozen=True)
class SplitResult:
    """One run's test accuracy (a fraction) on its split's held-out speakers."""

    architecture: str
    task: str
    split: str
    n_test: int
    test_accuracy: float
    source: str
    run: str


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs", nargs="+", type=Path, help="run folders, or folders that hold run folders"
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="recompute test accuracy from this corpus (folder or CSV manifest) instead of summary.json",
    )
    parser.add_argument(
        "--out", type=Path, help="folder for evaluation_splits.csv and evaluation_summary.csv"
    )
    parser.add_argument("--cache-dir", type=Path, help="preprocessing cache (with --data)")
    parser.add_argument(
        "--workers", type=int, default=2, help="preprocessing processes (with --data)"
    )


def run(args: argparse.Namespace) -> int:
    from explainer.cache import default_cache_dir

    run_dirs = find_runs(args.runs)
    cache_dir = args.cache_dir or default_cache_dir()
    results = [
        recompute(d, args.data, cache_dir=cache_dir, workers=args.workers)
        if args.data
        else from_summary(d)
        for d in run_dirs
    ]
    summary = summarise(results)
    print(format_table(results, summary))
    if args.out:
        write_csvs(results, summary, args.out)
        print(
            f"wrote {args.out / 'evaluation_splits.csv'} and {args.out / 'evaluation_summary.csv'}",
            file=sys.stderr,
        )
    return 0


def find_runs(paths: Sequence[Path]) -> list[Path]:
    """Run folders (holding ``config.json`` and ``model.pt``) at or below each path, sorted."""
    found: list[Path] = []
    for path in paths:
        if not Path(path).is_dir():
            raise UserError(f"{path}: no such folder")
        candidates = [path, *sorted(p.parent for p in Path(path).rglob(rf.CONFIG_NAME))]
        runs = [
            c
            for c in dict.fromkeys(candidates)
            if (c / rf.CONFIG_NAME).is_file() and (c / rf.MODEL_NAME).is_file()
        ]
        if not runs:
            raise UserError(f"{path}: holds no trained run (config.json with model.pt)")
        found += runs
    return list(dict.fromkeys(found))


def from_summary(run_dir: Path) -> SplitResult:
    """The test accuracy the run recorded when it finished."""
    path = run_dir / rf.SUMMARY_NAME
    if not path.is_file():
        raise UserError(
            f"{path}: missing (the run did not finish); resume it or pass --data to evaluate it"
        )
    summary = rf.read_json(path)
    return SplitResult(
        summary["architecture"],
        summary["task"],
        summary["split"],
        int(summary["test_n"]),
        float(summary["test_accuracy"]),
        "summary.json",
        str(run_dir),
    )


def recompute(
    run_dir: Path, data: Path, *, cache_dir: Path | None, workers: int = 1
) -> SplitResult:
    """Load the run's best weights and measure accuracy on its test speakers in ``data``."""
    from explainer import preprocessing as pp
    from explainer.cache import preprocess
    from explainer.training import load_run

    trained = load_run(run_dir)
    config = trained.config
    test = held_out_recordings(trained, data)
    pre = preprocess(
        list(test),
        trained.representation,
        seed=config["seed"],
        long_clips=pp.long_clip_policy(config),
        cache_dir=cache_dir,
        workers=workers,
        progress=False,
    )
    predicted = trained.predict(pre.inputs[:, 0]).argmax(1)
    labels = [trained.classes.index(label) for label in test.labels(trained.task)]
    accuracy = sum(int(p == t) for p, t in zip(predicted, labels, strict=True)) / len(labels)
    return SplitResult(
        trained.architecture,
        trained.task,
        config["split"]["name"],
        len(labels),
        accuracy,
        "recomputed",
        str(run_dir),
    )


def held_out_recordings(trained: Any, data: Path) -> Any:
    """The recordings of ``trained``'s test speakers in ``data``, read as the run read its corpus."""
    from explainer.layouts import open_corpus

    config = trained.config
    table = open_corpus(
        data,
        missing_metadata="skip" if config["skip_unknown_speakers"] else "error",
        drop_duplicates=config["drop_duplicates"],
        progress=False,
    )
    test = table.where(speakers=trained.test_speakers, max_takes=config["max_takes"])
    if len(test) == 0:
        raise UserError(f"{data}: has no recordings of the test speakers of {trained.run_dir}")
    return test


def summarise(results: Sequence[SplitResult]) -> list[dict[str, Any]]:
    """Mean and sample standard deviation of test accuracy per (architecture, task)."""
    groups: dict[tuple[str, str], list[float]] = {}
    for r in results:
        groups.setdefault((r.architecture, r.task), []).append(r.test_accuracy)
    rows = []
    for (architecture, task), accuracies in sorted(groups.items()):
        mean = statistics.fmean(accuracies)
        std = statistics.stdev(accuracies) if len(accuracies) > 1 else math.nan
        rows.append(
            {
                "architecture": architecture,
                "task": task,
                "n_splits": len(accuracies),
                "mean_accuracy": mean,
                "std_accuracy": std,
                "paper_format": paper_format(mean, std),
            }
        )
    return rows


def paper_format(mean: float, std: float) -> str:
    """Percent with two decimals: "95.82 % ± 1.49 %" (no ± part for a single split)."""
    text = f"{100 * mean:.2f} %"
    return text if math.isnan(std) else f"{text} ± {100 * std:.2f} %"


def format_table(results: Sequence[SplitResult], summary: Sequence[dict[str, Any]]) -> str:
    """A plain-text table: one line per split, then one per (model, task)."""
    lines = [f"{'model':<9} {'task':<6} {'split':<20} {'n test':>6} {'accuracy':>9}"]
    for r in sorted(results, key=lambda r: (r.architecture, r.task, r.split)):
        lines.append(
            f"{r.architecture:<9} {r.task:<6} {r.split:<20} {r.n_test:>6} {100 * r.test_accuracy:>8.2f}%"
        )
    lines += ["", f"{'model':<9} {'task':<6} {'splits':>6}  accuracy (mean ± sd over splits)"]
    for row in summary:
        lines.append(
            f"{row['architecture']:<9} {row['task']:<6} {row['n_splits']:>6}  {row['paper_format']}"
        )
    return "\n".join(lines)


def write_csvs(
    results: Sequence[SplitResult], summary: Sequence[dict[str, Any]], out: Path
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rf.write_csv(out / "evaluation_splits.csv", SPLIT_COLUMNS, [vars(r) for r in results])
    rf.write_csv(out / "evaluation_summary.csv", SUMMARY_COLUMNS, summary)
