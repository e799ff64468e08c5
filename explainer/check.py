"""``python -m explainer check --data CORPUS``: the metadata contract, checked up front.

Reads the corpus in any layout (:mod:`explainer.layouts`) and lists every problem at
once (unreadable, empty or stereo files, missing labels or speakers, long clips the
chosen policy refuses, speakers with too few clips) and what training would do with the
rest (sample rates resampled to 8 kHz, how many long clips get cropped and how). Exit
status 0 when the corpus can be trained on, 2 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from explainer.data import RecordingTable, problem_word
from explainer.layouts import detect_layout, scan_corpus
from explainer.preprocessing import LONG_CLIP_POLICIES, SAMPLE_RATE, WINDOW

DEFAULT_MIN_CLIPS = 10
SHOWN = 5  # file names shown per group of long clips


@dataclass
class CorpusReport:
    """What ``check`` found: problems block training, notes say what training will do."""

    data: str
    layout: str
    n_recordings: int = 0
    n_speakers: int = 0
    classes: dict[str, int] = field(default_factory=dict)
    sample_rates: dict[str, int] = field(default_factory=dict)
    long_clips: int = 0
    long_clip_policy: str = "refuse"
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def corpus_check(
    data: Path, *, long_clips: str = "refuse", min_clips: int = DEFAULT_MIN_CLIPS
) -> CorpusReport:
    """Check ``data`` (folder or CSV manifest) against the metadata contract.

    Parameters
    ----------
    data
        The corpus, in any layout of :mod:`explainer.layouts`.
    long_clips
        The long-clip policy training would use (see
        :func:`explainer.preprocessing.place_in_window`); under "refuse" every clip
        longer than 1 s is a problem.
    min_clips
        A speaker with fewer clips than this is a problem (too few to train or test on).
    """
    report = CorpusReport(str(data), detect_layout(data), long_clip_policy=long_clips)
    table, problems = scan_corpus(data, progress=False)
    report.problems += problems
    if table is not None:
        _describe(report, table, min_clips)
    return report


def _describe(report: CorpusReport, table: RecordingTable, min_clips: int) -> None:
    report.n_recordings, report.n_speakers = len(table), len(table.speakers())
    report.classes = dict(sorted(Counter(table.labels("digit")).items()))
    rates = Counter(r.sample_rate for r in table)
    report.sample_rates = {str(k): v for k, v in sorted(rates.items())}
    if set(rates) - {SAMPLE_RATE}:
        report.notes.append(
            f"sample rates {', '.join(f'{k} Hz' for k in sorted(rates))}: read at {SAMPLE_RATE} Hz"
        )
    _check_long_clips(report, table)
    per_speaker = Counter(r.speaker for r in table)
    few = sorted(s for s, n in per_speaker.items() if n < min_clips)
    if few:
        shown = ", ".join(f"{s} ({per_speaker[s]})" for s in few)
        report.problems.append(f"speakers with fewer than {min_clips} clips: {shown}")
    if any(not r.sex for r in table):
        report.notes.append("some speakers have no sex recorded: only the digit task is possible")
    for group in table.duplicates:
        report.notes.append(f"identical audio in {', '.join(group)}")


def _check_long_clips(report: CorpusReport, table: RecordingTable) -> None:
    report.long_clips = sum(1 for r in table if _is_long(r.duration_s))
    message = long_clips_message(table, report.long_clip_policy)
    if message is not None:
        target = report.problems if report.long_clip_policy == "refuse" else report.notes
        target.append(message)


def _is_long(duration_s: float) -> bool:
    return round(duration_s * SAMPLE_RATE) > WINDOW


def long_clips_message(table: RecordingTable, policy: str) -> str | None:
    """What ``policy`` does to the clips longer than the window (count, longest, first names);
    None if there are none. Under "refuse" it is a problem, otherwise a note."""
    long = [r for r in table if _is_long(r.duration_s)]
    if not long:
        return None
    longest = max(r.duration_s for r in long)
    names = ", ".join(r.relpath for r in long[:SHOWN]) + (" ..." if len(long) > SHOWN else "")
    what = f"{len(long)} clips longer than {WINDOW / SAMPLE_RATE:g} s (longest {longest:.2f} s): {names}"
    if policy == "refuse":
        return f"{what}; pass --long-clips centre, random or energy to keep one second of each"
    return f"{what}; the {policy!r} policy keeps one second of each"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--data", type=Path, required=True, help="corpus folder (any layout) or CSV manifest")
    add(
        "--long-clips",
        choices=LONG_CLIP_POLICIES,
        default="refuse",
        help="the policy training will use for clips longer than 1 s (default refuse)",
    )
    add(
        "--min-clips",
        type=int,
        default=DEFAULT_MIN_CLIPS,
        help=f"fewest clips a speaker may have (default {DEFAULT_MIN_CLIPS})",
    )
    add("--json", action="store_true", help="print the report as one JSON object")


def run(args: argparse.Namespace) -> int:
    report = corpus_check(args.data, long_clips=args.long_clips, min_clips=args.min_clips)
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    else:
        _print(report)
    return 0 if report.ok else 2


def _print(report: CorpusReport) -> None:
    print(
        f"{report.data}: {report.layout} layout, {report.n_recordings} recordings of "
        f"{report.n_speakers} speakers; clips per digit {_counts(report.classes)}"
    )
    for note in report.notes:
        print(f"note: {note}")
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    count = len(report.problems)
    verdict = "ok" if report.ok else f"{count} {problem_word(count)}"
    print(verdict, file=sys.stderr if report.problems else sys.stdout)


def _counts(counts: dict[Any, int]) -> str:
    return " ".join(f"{k}:{v}" for k, v in counts.items()) or "none"
