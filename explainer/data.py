"""AudioMNIST-layout corpora: find, check and describe every recording.

A corpus is a folder ``NN/D_NN_K.wav`` (speaker ``NN``, digit ``D``, take ``K``) with an
``audioMNIST_meta.txt`` JSON file keyed by the two-digit speaker id. The real dataset and
the synthetic demo corpus share this layout. :func:`load_recordings` survives the real
dataset's quirks (see ``docs/reproducing-audiomnist.md``) and fails with one clear message
naming the file on anything it cannot use.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from explainer.errors import UserError

META_NAME = "audioMNIST_meta.txt"
TASKS = ("digit", "sex")
TASK_CLASSES: dict[str, list[str]] = {
    "digit": [str(d) for d in range(10)],
    "sex": ["female", "male"],
}
FILE_PATTERN = re.compile(r"^(?P<digit>\d)_(?P<speaker>\d{2})_(?P<take>\d+)\.wav$")
SPEAKER_DIR = re.compile(r"^\d{2}$")
# Ages that are recorded but cannot be true (the real metadata holds "1234").
PLAUSIBLE_AGE = range(1, 120)


def problem_word(count: int) -> str:
    """ "problem" or "problems" after ``count`` (every count of problems is worded here)."""
    return "problem" if count == 1 else "problems"


class DataError(UserError):
    """A corpus that cannot be used; ``problems`` lists every problem found, each naming a file."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        extra = len(problems) - 1
        more = f" (and {extra} more {problem_word(extra)})" if extra else ""
        super().__init__(self.problems[0] + more)

    def __reduce__(self) -> tuple[type, tuple[list[str]]]:
        # Rebuild from the problem list, so the error survives a worker process boundary.
        return (type(self), (self.problems,))


@dataclass(frozen=True)
class SpeakerInfo:
    """One speaker's metadata, cleaned of the real file's quirks."""

    speaker: str
    sex: str
    age: int | None
    accent: str
    native_speaker: bool | None
    origin: str = ""
    recording_room: str = ""
    recording_date: str = ""


@dataclass(frozen=True)
class Recording:
    """One clip of a corpus.

    ``duration_s`` is in seconds at the file's own ``sample_rate`` (Hz); ``audio_sha256``
    hashes the decoded samples, so identical audio in differently written files matches.
    """

    path: Path
    relpath: str
    speaker: str
    digit: int
    take: int
    sex: str
    age: int | None
    accent: str
    native_speaker: bool | None
    duration_s: float
    sample_rate: int
    audio_sha256: str = ""
    recording_room: str = ""

    def label(self, task: str) -> str:
        """The class label of this recording for ``task`` ("digit" or "sex")."""
        if task == "digit":
            return str(self.digit)
        if task == "sex":
            return self.sex
        raise ValueError(f"unknown task {task!r}; choose one of {list(TASKS)}")


@dataclass(frozen=True)
class RecordingTable:
    """An ordered, immutable table of recordings plus what the loader noticed.

    Iterate it for :class:`Recording` rows. ``duplicates`` lists groups of relpaths whose
    audio is identical; ``notes`` says which quirks were repaired (one line each).
    """

    root: Path
    recordings: tuple[Recording, ...]
    speakers_info: dict[str, SpeakerInfo] = field(default_factory=dict)
    duplicates: tuple[tuple[str, ...], ...] = ()
    notes: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Recording]:
        return iter(self.recordings)

    def __len__(self) -> int:
        return len(self.recordings)

    def __getitem__(self, index: int) -> Recording:
        return self.recordings[index]

    def speakers(self) -> list[str]:
        """Sorted two-digit ids of the speakers that have recordings."""
        return sorted({r.speaker for r in self.recordings})

    def speaker_sexes(self) -> dict[str, str]:
        """Speaker id -> "male"/"female" for the speakers that have recordings."""
        return {r.speaker: r.sex for r in self.recordings}

    def where(
        self,
        *,
        speakers: Iterable[str] | None = None,
        digits: Iterable[int] | None = None,
        max_takes: int | None = None,
    ) -> RecordingTable:
        """The rows matching every given condition (``max_takes`` keeps takes below it)."""
        keep_speakers = set(speakers) if speakers is not None else None
        keep_digits = set(digits) if digits is not None else None
        rows = tuple(
            r
            for r in self.recordings
            if (keep_speakers is None or r.speaker in keep_speakers)
            and (keep_digits is None or r.digit in keep_digits)
            and (max_takes is None or r.take < max_takes)
        )
        return replace(self, recordings=rows)

    def labels(self, task: str) -> list[str]:
        return [r.label(task) for r in self.recordings]

    def fingerprint(self) -> str:
        """SHA-256 over every recording's name, audio and labels, independent of the path."""
        digest = hashlib.sha256()
        for r in sorted(self.recordings, key=lambda r: r.relpath):
            digest.update(f"{r.relpath}\t{r.audio_sha256}\t{r.sex}\t{r.digit}\n".encode())
        return digest.hexdigest()

    def describe(self) -> str:
        """One line saying what the table holds."""
        sexes = self.speaker_sexes()
        n_f = sum(1 for s in sexes.values() if s == "female")
        return (
            f"{len(self)} recordings of {len(sexes)} speakers ({n_f} female, "
            f"{len(sexes) - n_f} male) from {self.root.name}"
        )


def load_recordings(
    root: Path,
    *,
    missing_metadata: str = "error",
    drop_duplicates: bool = False,
    progress: bool = True,
) -> RecordingTable:
    """Find, check and describe every recording of an AudioMNIST-layout corpus.

    Parameters
    ----------
    root
        The folder holding ``NN/`` speaker folders and ``audioMNIST_meta.txt`` (or its
        parent, when that has a ``data/`` folder, as in the dataset's repository).
    missing_metadata
        ``"error"`` (default) fails on a speaker folder absent from the metadata;
        ``"skip"`` leaves that speaker out and says so in ``notes``.
    drop_duplicates
        Keep only the first of each group of identical recordings.
    progress
        Show a progress bar (stderr) while reading the audio.

    Returns
    -------
    RecordingTable
        Sorted by speaker, digit and take.

    Raises
    ------
    DataError
        Naming the file for every unreadable, stereo, empty or misnamed recording and every
        speaker missing from the metadata.
    """
    if missing_metadata not in ("error", "skip"):
        raise ValueError("missing_metadata must be 'error' or 'skip'")
    root = _corpus_root(Path(root))
    speakers_info, notes = read_metadata(root / META_NAME)
    wav_paths, problems = _find_wavs(root)
    wav_paths, skipped = _drop_unknown_speakers(wav_paths, speakers_info, missing_metadata, root)
    notes += skipped
    recordings: list[Recording] = []
    for path in _progress(wav_paths, progress, "reading recordings"):
        try:
            recordings.append(_read_recording(path, root, speakers_info))
        except DataError as exc:
            problems.extend(exc.problems)
    problems += _metadata_problems(recordings, speakers_info)
    if problems:
        raise DataError(problems)
    recordings.sort(key=lambda r: (r.speaker, r.digit, r.take))
    duplicates = find_duplicates(recordings)
    if drop_duplicates:
        extra = {rel for group in duplicates for rel in group[1:]}
        recordings = [r for r in recordings if r.relpath not in extra]
    return RecordingTable(root, tuple(recordings), speakers_info, duplicates, tuple(notes))


def _corpus_root(root: Path) -> Path:
    if not root.is_dir():
        raise DataError([f"{root}: no such corpus folder"])
    if not (root / META_NAME).is_file() and (root / "data" / META_NAME).is_file():
        return (root / "data").resolve()
    if not (root / META_NAME).is_file():
        raise DataError(
            [
                f"{root / META_NAME}: metadata file not found (is {root} an AudioMNIST-layout folder?)"
            ]
        )
    return root.resolve()


def _progress(items: Sequence[Path], enabled: bool, desc: str) -> Iterable[Path]:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="clip", leave=False)


def read_metadata(path: Path) -> tuple[dict[str, SpeakerInfo], list[str]]:
    """Parse ``audioMNIST_meta.txt`` into cleaned :class:`SpeakerInfo` per speaker id.

    Returns the speakers and one note per repaired quirk (string ages, placeholder ages,
    room-name spellings). Raises :class:`DataError` naming the file if it is not usable.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError([f"{path}: cannot read the metadata as JSON ({exc})"]) from exc
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise DataError([f"{path}: metadata must be a JSON object of speaker objects"])
    speakers: dict[str, SpeakerInfo] = {}
    notes: list[str] = []
    for key, entry in sorted(raw.items()):
        speaker = _speaker_id(key)
        if speaker is None:
            raise DataError([f"{path}: speaker key {key!r} is not a speaker number"])
        info, entry_notes = _speaker_info(speaker, entry)
        speakers[speaker] = info
        notes += [f"{path.name}: speaker {speaker}: {n}" for n in entry_notes]
    return speakers, notes


def _speaker_id(key: str) -> str | None:
    return f"{int(key):02d}" if str(key).strip().isdigit() else None


def _speaker_info(speaker: str, entry: dict[str, Any]) -> tuple[SpeakerInfo, list[str]]:
    notes: list[str] = []
    age = parse_age(entry.get("age"))
    if age is None and entry.get("age") is not None:
        notes.append(f"age {entry.get('age')!r} is not a plausible age; recorded as unknown")
    room_raw = str(entry.get("recordingroom", ""))
    room = normalise_room(room_raw)
    if room_raw and room != room_raw:
        notes.append(f"room {room_raw!r} read as {room!r}")
    info = SpeakerInfo(
        speaker=speaker,
        sex=str(entry.get("gender", "")).strip().lower(),
        age=age,
        accent=str(entry.get("accent", "")).strip(),
        native_speaker=_parse_yes_no(entry.get("native speaker")),
        origin=str(entry.get("origin", "")).strip(),
        recording_room=room,
        recording_date=str(entry.get("recordingdate", "")).strip(),
    )
    return info, notes


def parse_age(value: Any) -> int | None:
    """An age from an int or a numeric string; None for missing or implausible ages."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and value in PLAUSIBLE_AGE:
        return value
    return None


def normalise_room(name: str) -> str:
    """One spelling per room: lower case, with the known typo "romm" repaired."""
    cleaned = re.sub(r"[\s_]+", "-", name.strip().lower())
    return re.sub(r"romm\b", "room", cleaned)


def _parse_yes_no(value: Any) -> bool | None:
    text = str(value).strip().lower()
    return {"yes": True, "no": False, "true": True, "false": False}.get(text)


def _find_wavs(root: Path) -> tuple[list[Path], list[str]]:
    """Every WAV in the speaker folders, and a problem for each misplaced or misnamed one."""
    paths: list[Path] = []
    problems: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not SPEAKER_DIR.match(folder.name):
            continue  # other folders (caches, notes) are not part of the corpus
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or path.suffix.lower() != ".wav":
                continue
            match = FILE_PATTERN.match(path.name)
            if match is None:
                problems.append(f"{path}: file name does not match D_NN_K.wav (digit_speaker_take)")
            elif match["speaker"] != folder.name:
                problems.append(
                    f"{path}: names speaker {match['speaker']} but is in folder {folder.name}"
                )
            else:
                paths.append(path)
    if not paths and not problems:
        problems.append(f"{root}: no recordings found in NN/D_NN_K.wav speaker folders")
    return paths, problems


def _drop_unknown_speakers(
    paths: list[Path], speakers: dict[str, SpeakerInfo], mode: str, root: Path
) -> tuple[list[Path], list[str]]:
    unknown = sorted({p.parent.name for p in paths} - set(speakers))
    if not unknown or mode == "error":
        return paths, []
    note = f"{root / META_NAME}: speakers {', '.join(unknown)} have no metadata and were left out"
    return [p for p in paths if p.parent.name not in unknown], [note]


def _metadata_problems(recordings: list[Recording], speakers: dict[str, SpeakerInfo]) -> list[str]:
    problems = []
    for speaker in sorted({r.speaker for r in recordings}):
        info = speakers.get(speaker)
        first = next(r for r in recordings if r.speaker == speaker)
        if info is None:
            problems.append(
                f"{first.path}: speaker {speaker} is missing from {META_NAME} "
                "(add it, or load with missing_metadata='skip' / --skip-unknown-speakers)"
            )
        elif info.sex not in ("male", "female"):
            problems.append(
                f"{first.path}: speaker {speaker} has gender {info.sex!r} in {META_NAME}; expected male or female"
            )
    return problems


def _read_recording(path: Path, root: Path, speakers: dict[str, SpeakerInfo]) -> Recording:
    match = FILE_PATTERN.match(path.name)
    assert match is not None  # _find_wavs only passes matching names
    info = speakers.get(match["speaker"]) or SpeakerInfo(match["speaker"], "", None, "", None)
    return read_clip(
        path,
        relpath=f"{path.parent.name}/{path.name}",
        digit=int(match["digit"]),
        take=int(match["take"]),
        info=info,
    )


def read_clip(path: Path, *, relpath: str, digit: int, take: int, info: SpeakerInfo) -> Recording:
    """Read one WAV file into a :class:`Recording` of speaker ``info``.

    Raises :class:`DataError` naming the file if it is not readable, not mono or empty.
    """
    samples, rate = _read_pcm(path)
    digest = hashlib.sha256(np.int64(rate).tobytes() + samples.tobytes()).hexdigest()
    return Recording(
        path=path.resolve(),
        relpath=relpath,
        speaker=info.speaker,
        digit=digit,
        take=take,
        sex=info.sex,
        age=info.age,
        accent=info.accent,
        native_speaker=info.native_speaker,
        duration_s=len(samples) / rate,
        sample_rate=rate,
        audio_sha256=digest,
        recording_room=info.recording_room,
    )


def _read_pcm(path: Path) -> tuple[np.ndarray, int]:
    """Decoded samples (int32, lossless for 8-32 bit PCM) and the rate; one error per defect."""
    return _decoded(path, "int32")


def _decoded(path: Path, dtype: str) -> tuple[np.ndarray, int]:
    """A mono file's samples ``(n,)`` as ``dtype`` and its rate, or one error naming the defect."""
    path = Path(path)
    if not path.is_file():
        raise DataError([f"{path}: no such file"])
    if path.stat().st_size == 0:
        raise DataError([f"{path}: is empty (0 bytes)"])
    try:
        samples, rate = sf.read(path, dtype=dtype, always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError) as exc:
        raise DataError([f"{path}: cannot read as WAV audio ({exc})"]) from exc
    if samples.shape[1] != 1:
        raise DataError([f"{path}: has {samples.shape[1]} channels; expected mono"])
    if samples.shape[0] == 0:
        raise DataError([f"{path}: contains no audio samples"])
    return samples[:, 0], int(rate)


def find_duplicates(recordings: Iterable[Recording]) -> tuple[tuple[str, ...], ...]:
    """Groups (two or more relpaths, sorted) of recordings with identical decoded audio."""
    groups: dict[str, list[str]] = {}
    for r in recordings:
        groups.setdefault(r.audio_sha256, []).append(r.relpath)
    return tuple(tuple(sorted(g)) for g in groups.values() if len(g) > 1)


def read_audio(path: Path, target_sr: int = 8000) -> np.ndarray:
    """Read a mono WAV as float32 in [-1, 1], resampled to ``target_sr``.

    Parameters
    ----------
    path
        A mono WAV file.
    target_sr
        Output rate in Hz; resampled with a polyphase filter (``resample_poly``) if needed.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_samples,)`` at ``target_sr``, dtype float32.
    """
    audio, rate = _decoded(path, "float32")
    if rate != target_sr:
        g = gcd(int(rate), int(target_sr))
        audio = resample_poly(audio, target_sr // g, rate // g).astype(np.float32)
    return np.ascontiguousarray(audio, dtype=np.float32)
