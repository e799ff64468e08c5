"""Corpora in the layouts researchers have, each read into one :class:`RecordingTable`.

``--data`` names any of these (see ``docs/corpus-layouts.md`` for the metadata contract):

- **AudioMNIST layout**: a folder with ``audioMNIST_meta.txt`` and ``NN/D_NN_K.wav``
  (:func:`explainer.data.load_recordings`).
- **CSV manifest**: a ``.csv`` file with the columns ``path,label`` and optionally
  ``speaker``, ``sex``, ``take``, ``age``; paths are relative to the CSV file.
- **Folder per class**: sub-folders named by the digit (``0`` .. ``9`` or ``zero`` ..
  ``nine``), each holding ``SPEAKER_anything.wav``.
- **Flat folder**: ``D_SPEAKER_TAKE.wav`` files side by side.

The last two may hold a ``speakers.csv`` (``speaker,sex[,age]``) for the sex task.
:func:`scan_corpus` reads what it can and returns every problem; :func:`open_corpus`
raises them all at once.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from explainer.data import (
    META_NAME,
    DataError,
    Recording,
    RecordingTable,
    SpeakerInfo,
    find_duplicates,
    load_recordings,
    parse_age,
    read_clip,
)

LAYOUTS = ("audiomnist", "manifest", "class-folders", "flat")
SPEAKERS_NAME = "speakers.csv"
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FLAT_PATTERN = re.compile(r"^(?P<digit>\d)_(?P<speaker>[^_]+)_(?P<take>\d+)\.wav$", re.I)
MANIFEST_COLUMNS = ("path", "label")
SEXES = ("female", "male")


@dataclass(frozen=True)
class ClipEntry:
    """One clip a layout lists, before its audio is read."""

    path: Path
    relpath: str
    label: str
    speaker: str
    take: int | None = None
    sex: str = ""
    age: str = ""


def detect_layout(data: Path) -> str:
    """The layout of ``data`` (one of :data:`LAYOUTS`); raises :class:`DataError` if none fits."""
    data = Path(data)
    if data.is_file() and data.suffix.lower() == ".csv":
        return "manifest"
    if not data.is_dir():
        raise DataError([f"{data}: no such corpus folder or CSV manifest"])
    if (data / META_NAME).is_file() or (data / "data" / META_NAME).is_file():
        return "audiomnist"
    if any(p.is_dir() and parse_label(p.name) is not None for p in data.iterdir()):
        return "class-folders"
    if any(p.suffix.lower() == ".wav" for p in data.iterdir()):
        return "flat"
    raise DataError(
        [
            f"{data}: not a corpus: expected {META_NAME}, a CSV manifest, folders named "
            "by digit, or D_SPEAKER_TAKE.wav files"
        ]
    )


def parse_label(text: str) -> int | None:
    """The digit a label names ("7", "07" or "seven"), or None."""
    text = str(text).strip().lower()
    if text.isdigit() and int(text) < 10:
        return int(text)
    return DIGIT_WORDS.index(text) if text in DIGIT_WORDS else None


def speaker_id(text: str) -> str:
    """One spelling per speaker: numbers two-digit as in AudioMNIST ("3" -> "03"), names stripped."""
    text = str(text).strip()
    return f"{int(text):02d}" if text.isdigit() else text


def scan_corpus(
    data: Path, *, missing_metadata: str = "error", progress: bool = True
) -> tuple[RecordingTable | None, list[str]]:
    """Read every readable clip of ``data`` in any layout, and list every problem found.

    Returns the table of the clips read (None if the corpus as a whole is unusable) and
    the problems, each naming a file or a field.
    """
    layout = detect_layout(data)
    if layout == "audiomnist":
        try:
            return load_recordings(data, missing_metadata=missing_metadata, progress=progress), []
        except DataError as exc:
            return None, exc.problems
    root = Path(data).resolve().parent if layout == "manifest" else Path(data).resolve()
    entries, problems = LISTERS[layout](Path(data))
    speakers, speaker_problems = _speaker_table(root, entries)
    problems += speaker_problems
    recordings = _read_entries(entries, speakers, problems, progress)
    if not recordings and not problems:
        problems.append(f"{data}: holds no recordings")
    return RecordingTable(root, tuple(recordings), speakers, find_duplicates(recordings)), problems


def open_corpus(
    data: Path,
    *,
    missing_metadata: str = "error",
    drop_duplicates: bool = False,
    progress: bool = True,
) -> RecordingTable:
    """The corpus at ``data`` (folder or CSV manifest, any layout), sorted by speaker and digit.

    Raises :class:`DataError` listing every problem, before anything is trained.
    """
    table, problems = scan_corpus(data, missing_metadata=missing_metadata, progress=progress)
    if problems or table is None:
        raise DataError(problems)
    if drop_duplicates and table.duplicates:
        extra = {rel for group in table.duplicates for rel in group[1:]}
        keep = tuple(r for r in table if r.relpath not in extra)
        table = RecordingTable(table.root, keep, table.speakers_info, table.duplicates, table.notes)
    return table


def _list_manifest(path: Path) -> tuple[list[ClipEntry], list[str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return [], [f"{path}: cannot read the manifest ({exc})"]
    columns = set(rows[0]) if rows else set()
    missing = [c for c in MANIFEST_COLUMNS if c not in columns]
    if not rows or missing:
        return [], [f"{path}: the manifest needs the columns path,label (missing: {missing})"]
    entries, problems = [], []
    for line, row in enumerate(rows, start=2):
        where = f"{path}:{line}"
        if not (row.get("path") or "").strip():
            problems.append(f"{where}: no path")
            continue
        if not (row.get("label") or "").strip():
            problems.append(f"{where}: {row['path']}: no label")
            continue
        relpath = row["path"].strip()
        entries.append(
            ClipEntry(
                path=path.parent / relpath,
                relpath=relpath,
                label=row["label"].strip(),
                speaker=speaker_id(row.get("speaker") or ""),
                take=_int_or_none(row.get("take")),
                sex=(row.get("sex") or "").strip().lower(),
                age=(row.get("age") or "").strip(),
            )
        )
    return entries, problems


def _list_class_folders(root: Path) -> tuple[list[ClipEntry], list[str]]:
    entries = []
    for folder in sorted(
        p for p in root.iterdir() if p.is_dir() and parse_label(p.name) is not None
    ):
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav"):
            speaker = speaker_id(path.stem.split("_")[0]) if "_" in path.stem else ""
            entries.append(ClipEntry(path, f"{folder.name}/{path.name}", folder.name, speaker))
    return entries, []


def _list_flat(root: Path) -> tuple[list[ClipEntry], list[str]]:
    entries, problems = [], []
    for path in sorted(p for p in root.iterdir() if p.suffix.lower() == ".wav"):
        match = FLAT_PATTERN.match(path.name)
        if match is None:
            problems.append(f"{path}: file name does not match D_SPEAKER_TAKE.wav")
            continue
        entries.append(
            ClipEntry(
                path, path.name, match["digit"], speaker_id(match["speaker"]), int(match["take"])
            )
        )
    return entries, problems


LISTERS: dict[str, Callable[[Path], tuple[list[ClipEntry], list[str]]]] = {
    "manifest": _list_manifest,
    "class-folders": _list_class_folders,
    "flat": _list_flat,
}


def _speaker_table(
    root: Path, entries: Iterable[ClipEntry]
) -> tuple[dict[str, SpeakerInfo], list[str]]:
    """Speaker id -> info, from the entries' own sex/age and an optional ``speakers.csv``."""
    entries = list(entries)
    extra, problems = _read_speakers_file(root / SPEAKERS_NAME)
    unused = sorted(set(extra) - {e.speaker for e in entries})
    if unused:
        problems.append(f"{root / SPEAKERS_NAME}: speakers {', '.join(unused)} have no clips")
    speakers: dict[str, SpeakerInfo] = {}
    for entry in entries:
        if not entry.speaker or entry.speaker in speakers:
            continue
        sex, age = extra.get(entry.speaker, (entry.sex, entry.age))
        if sex and sex not in SEXES:
            problems.append(
                f"{entry.path}: speaker {entry.speaker} has sex {sex!r}; expected male or female"
            )
        speakers[entry.speaker] = SpeakerInfo(entry.speaker, sex, parse_age(age), "", None)
    return speakers, problems


def _read_speakers_file(path: Path) -> tuple[Mapping[str, tuple[str, str]], list[str]]:
    if not path.is_file():
        return {}, []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return {}, [f"{path}: cannot read ({exc})"]
    if rows and not {"speaker", "sex"} <= set(rows[0]):
        return {}, [f"{path}: needs the columns speaker,sex"]
    return {
        speaker_id(r["speaker"] or ""): (
            (r["sex"] or "").strip().lower(),
            (r.get("age") or "").strip(),
        )
        for r in rows
    }, []


def _read_entries(
    entries: list[ClipEntry],
    speakers: Mapping[str, SpeakerInfo],
    problems: list[str],
    progress: bool,
) -> list[Recording]:
    """Read each entry's audio; append a problem per unusable entry to ``problems``."""
    recordings: list[Recording] = []
    takes: dict[tuple[str, int], int] = {}
    for entry in _progress(entries, progress):
        digit = parse_label(entry.label)
        if digit is None:
            problems.append(f"{entry.path}: label {entry.label!r} is not a digit 0-9 or its name")
            continue
        if not entry.speaker:
            problems.append(f"{entry.path}: no speaker (speaker-disjoint splits need one per clip)")
            continue
        take = entry.take if entry.take is not None else takes.get((entry.speaker, digit), 0)
        takes[(entry.speaker, digit)] = take + 1
        try:
            recordings.append(
                read_clip(
                    entry.path,
                    relpath=entry.relpath,
                    digit=digit,
                    take=take,
                    info=speakers[entry.speaker],
                )
            )
        except DataError as exc:
            problems.extend(exc.problems)
    return sorted(recordings, key=lambda r: (r.speaker, r.digit, r.take, r.relpath))


def _progress(items: list[ClipEntry], enabled: bool) -> Iterable[ClipEntry]:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="reading recordings", unit="clip", leave=False)


def _int_or_none(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() else None
