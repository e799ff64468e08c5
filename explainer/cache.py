"""Preprocessed network inputs, computed in parallel and cached on disk as memory-mapped arrays.

A cache entry is a folder named by a key: the SHA-256 of every recording's name and
decoded-audio hash, the preprocessing parameters (representation, placement seed, long-clip policy,
number of placements) and a format version. Editing, adding or removing a recording, or
changing any parameter, gives a new key, so a stale entry is never read. Entries are
built in a temporary folder and renamed into place, so an interrupted build leaves
nothing half-written.

Inputs are stored as float16 (half the bytes; 11 significant bits, far finer than the
inputs' own precision: 0.03 dB on a spectrogram), in memory too, so a run gives the same
result with and without the cache. The cache is bounded: after each build the least
recently used entries are deleted until the cache holds at most ``HEARXAI_CACHE_MAX_GB``
(default 8 GB). The default location is ``$HEARXAI_CACHE_DIR`` or
``~/.cache/hearxai/preprocessed``; ``python -m explainer cache clear`` empties it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from explainer import preprocessing as pp
from explainer.augmentation import AUGMENTATIONS, augment_waveform, mask_spectrogram
from explainer.data import DataError, Recording, read_audio

CACHE_VERSION = 2  # 2: float16 inputs
CACHE_ENV = "HEARXAI_CACHE_DIR"
LIMIT_ENV = "HEARXAI_CACHE_MAX_GB"
DEFAULT_LIMIT_GB = 8.0  # a paper reproduction's spectrograms (3.1 GB per entry set) fit
STORED_DTYPE = np.float16
CHUNK = 32  # clips per worker task: large enough to amortise the process round trip


@dataclass(frozen=True)
class Preprocessed:
    """Network inputs for a list of recordings.

    ``inputs`` has shape ``(n_recordings, placements, *input_shape)`` (float16; a read-only
    memory map when cached), ``offsets`` shape ``(n_recordings, placements)`` (samples,
    see :func:`explainer.preprocessing.place_in_window`). ``built`` says whether this call
    computed the arrays (False: read from the cache).
    """

    inputs: np.ndarray
    offsets: np.ndarray
    relpaths: tuple[str, ...]
    key: str
    params: dict[str, Any]
    built: bool
    path: Path | None = None


def default_cache_dir() -> Path:
    """``$HEARXAI_CACHE_DIR``, else ``~/.cache/hearxai/preprocessed``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "hearxai" / "preprocessed"


def cache_params(
    representation: str,
    *,
    seed: int,
    long_clips: str,
    placements: int,
    speed_perturbation: float = 0.0,
    augment: str = "none",
) -> dict[str, Any]:
    """The parameters that, with the audio, determine the cached arrays."""
    if representation not in pp.REPRESENTATIONS:
        raise ValueError(f"unknown representation {representation!r}")
    if placements < 1:
        raise ValueError("placements must be at least 1")
    if not 0.0 <= speed_perturbation < 0.5:
        raise ValueError("speed_perturbation must be in [0, 0.5)")
    if augment not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {augment!r}; choose one of {AUGMENTATIONS}")
    return {
        "cache_version": CACHE_VERSION,
        "representation": representation,
        "placements": placements,
        "speed_perturbation": speed_perturbation,
        "augment": augment,
        **pp.preprocessing_params(seed=seed, long_clips=long_clips),
    }


def cache_key(recordings: Sequence[Recording], params: dict[str, Any]) -> str:
    """SHA-256 over the parameters and each recording's relpath and audio hash, in order."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for r in recordings:
        if not r.audio_sha256:
            raise ValueError(f"{r.path}: recording has no audio hash; load it with load_recordings")
        digest.update(f"\n{r.relpath}\t{r.audio_sha256}".encode())
    return digest.hexdigest()


def preprocess(
    recordings: Sequence[Recording],
    representation: str,
    *,
    seed: int,
    long_clips: str = "refuse",
    placements: int = 1,
    speed_perturbation: float = 0.0,
    augment: str = "none",
    cache_dir: Path | None = None,
    workers: int = 1,
    progress: bool = True,
) -> Preprocessed:
    """Network inputs for ``recordings``, read from the cache or computed (and then cached).

    Parameters
    ----------
    recordings
        Rows of a :class:`explainer.data.RecordingTable` (they carry the audio hashes).
    representation
        "waveform" (AudioNet, ``(8000,)`` per input) or "spectrogram" (AlexNet, ``(227, 227)`` dB).
    seed
        Seeds each clip's placement in the window (per clip, so independent of order).
    long_clips
        What to do with clips longer than one second (see
        :func:`explainer.preprocessing.place_in_window`): "refuse" (default), "centre",
        "random" or "energy".
    placements
        Random placements per clip (1 in the paper; more gives shifted copies for training).
    speed_perturbation
        If above 0, each placement first plays the clip faster or slower by a random factor
        in ``1 ± speed_perturbation`` (training augmentation; 0 in the paper).
    augment
        "speech" or "speech-wide" changes each placement with :mod:`explainer.augmentation`
        (training copies only); "none" (default) leaves the audio as it is.
    cache_dir
        Root of the cache; None computes in memory without caching.
    workers
        Processes computing inputs (1 computes in this process).
    """
    params = cache_params(
        representation,
        seed=seed,
        long_clips=long_clips,
        placements=placements,
        speed_perturbation=speed_perturbation,
        augment=augment,
    )
    key = cache_key(recordings, params)
    relpaths = tuple(r.relpath for r in recordings)
    entry = Path(cache_dir) / key if cache_dir is not None else None
    if entry is not None:
        cached = _open_entry(entry, relpaths, params, key)
        if cached is not None:
            return cached
        # Only a damaged entry can exist without opening (complete ones appear by rename).
        shutil.rmtree(entry, ignore_errors=True)
    target = _allocate(entry, len(recordings), params)
    try:
        _compute(recordings, params, target, workers=workers, progress=progress)
    except BaseException:
        if entry is not None:
            shutil.rmtree(target["folder"], ignore_errors=True)
        raise
    if entry is None:
        return Preprocessed(target["inputs"], target["offsets"], relpaths, key, params, built=True)
    _commit(target, entry, relpaths, params, key)
    cache_prune(Path(cache_dir), max_bytes=cache_limit_bytes(), keep=entry)
    opened = _open_entry(entry, relpaths, params, key)
    assert opened is not None
    return Preprocessed(
        opened.inputs, opened.offsets, relpaths, key, params, built=True, path=entry
    )


def _allocate(entry: Path | None, n: int, params: dict[str, Any]) -> dict[str, Any]:
    shape = (n, params["placements"], *pp.input_shape(params["representation"]))
    if entry is None:
        return {"inputs": np.empty(shape, STORED_DTYPE), "offsets": np.empty(shape[:2], np.int64)}
    entry.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{entry.name[:16]}.", dir=entry.parent))
    inputs = np.lib.format.open_memmap(
        folder / "inputs.npy", mode="w+", dtype=STORED_DTYPE, shape=shape
    )
    offsets = np.lib.format.open_memmap(
        folder / "offsets.npy", mode="w+", dtype=np.int64, shape=shape[:2]
    )
    return {"inputs": inputs, "offsets": offsets, "folder": folder}


def _commit(
    target: dict[str, Any], entry: Path, relpaths: tuple[str, ...], params: dict[str, Any], key: str
) -> None:
    target["inputs"].flush()
    target["offsets"].flush()
    folder: Path = target["folder"]
    index = {"key": key, "params": params, "relpaths": list(relpaths)}
    (folder / "index.json").write_text(json.dumps(index, indent=1), encoding="utf-8")
    folder.chmod(0o755)
    try:
        folder.rename(entry)
    except OSError:
        # Another process finished the same entry first; theirs is identical.
        shutil.rmtree(folder, ignore_errors=True)


def _open_entry(
    entry: Path, relpaths: tuple[str, ...], params: dict[str, Any], key: str
) -> Preprocessed | None:
    """The cached arrays if the entry is complete and matches; None if it must be (re)built."""
    try:
        index = json.loads((entry / "index.json").read_text(encoding="utf-8"))
        inputs = np.load(entry / "inputs.npy", mmap_mode="r")
        offsets = np.load(entry / "offsets.npy", mmap_mode="r")
    except (OSError, ValueError):
        return None
    # Last use, for the least-recently-used pruning: an explicit time, because the file
    # system's own clock is coarse (milliseconds) and two uses can share a tick.
    now = time.time()
    os.utime(entry / "index.json", (now, now))
    if (
        index.get("key") != key
        or tuple(index.get("relpaths", ())) != relpaths
        or inputs.shape[0] != len(relpaths)
    ):
        return None
    return Preprocessed(inputs, offsets, relpaths, key, params, built=False, path=entry)


def cache_limit_bytes() -> int:
    """The cache's size limit from ``HEARXAI_CACHE_MAX_GB`` (default 8 GB)."""
    text = os.environ.get(LIMIT_ENV, "")
    try:
        gigabytes = float(text) if text else DEFAULT_LIMIT_GB
    except ValueError:
        raise ValueError(f"{LIMIT_ENV}={text!r} is not a number of gigabytes") from None
    return int(gigabytes * 1e9)


def cache_entries(cache_dir: Path) -> list[tuple[Path, int, float]]:
    """Complete entries as (folder, bytes, last use as a timestamp), least recently used first."""
    entries = []
    for folder in Path(cache_dir).iterdir() if Path(cache_dir).is_dir() else ():
        index = folder / "index.json"
        if folder.name.startswith(".") or not index.is_file():
            continue
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        entries.append((folder, size, index.stat().st_mtime))
    return sorted(entries, key=lambda e: e[2])


def cache_prune(cache_dir: Path, *, max_bytes: int, keep: Path | None = None) -> list[Path]:
    """Delete least recently used entries (never ``keep``) until at most ``max_bytes`` remain."""
    entries = cache_entries(cache_dir)
    total = sum(size for _, size, _ in entries)
    removed = []
    for folder, size, _ in entries:
        if total <= max_bytes:
            break
        if folder == keep:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= size
        removed.append(folder)
    return removed


def _chunks(n: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, CHUNK):
        yield start, min(n, start + CHUNK)


def _compute(
    recordings: Sequence[Recording],
    params: dict[str, Any],
    target: dict[str, Any],
    *,
    workers: int,
    progress: bool,
) -> None:
    from tqdm import tqdm

    items = [(str(r.path), r.relpath) for r in recordings]
    bar = tqdm(
        total=len(items),
        desc=f"preprocessing ({params['representation']})",
        unit="clip",
        disable=not progress,
    )
    with bar:
        if workers <= 1:
            for start, stop in _chunks(len(items)):
                _store(target, start, *compute_chunk(items[start:stop], params))
                bar.update(stop - start)
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {
                pool.submit(compute_chunk, items[a:b], params): a for a, b in _chunks(len(items))
            }
            for future in as_completed(futures):
                inputs, offsets = future.result()
                _store(target, futures[future], inputs, offsets)
                bar.update(len(offsets))


def _store(target: dict[str, Any], start: int, inputs: np.ndarray, offsets: np.ndarray) -> None:
    target["inputs"][start : start + len(inputs)] = inputs
    target["offsets"][start : start + len(offsets)] = offsets


def compute_chunk(
    items: Sequence[tuple[str, str]], params: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(len(items), placements, *shape)`` and offsets for ``(path, relpath)`` pairs.

    A module-level function so worker processes can run it.
    """
    n_place = params["placements"]
    representation = params["representation"]
    inputs = np.empty((len(items), n_place, *pp.input_shape(representation)), np.float32)
    offsets = np.empty((len(items), n_place), np.int64)
    for i, (path, relpath) in enumerate(items):
        audio = read_audio(Path(path), target_sr=pp.SAMPLE_RATE)
        for p in range(n_place):
            rng = pp.clip_offset_rng(params["placement_seed"], relpath, p)
            clip = (
                pp.change_speed(audio, rng, params["speed_perturbation"])
                if params["speed_perturbation"]
                else audio
            )
            try:
                window, offsets[i, p] = pp.place_in_window(
                    clip, rng=rng, long_clips=params["long_clips"]
                )
            except pp.ClipTooLongError as exc:
                raise DataError(
                    [
                        f"{path}: {exc}; pass --long-clips centre, random or energy to keep one second of it"
                    ]
                ) from exc
            augment = params.get("augment", "none")
            if augment != "none":
                window = augment_waveform(window, rng, augment)
            inputs[i, p] = pp.model_input(window, representation)
            if augment != "none" and representation != "waveform":
                inputs[i, p] = mask_spectrogram(inputs[i, p], rng, augment)
    return inputs, offsets
