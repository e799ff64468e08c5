"""``python -m explainer corpus``: write the synthetic demo corpus in the AudioMNIST layout.

Each speaker is an espeak-ng voice (an English accent plus a voice variant of either sex)
with its own pitch and speed. Each take varies pitch and speed a little, is trimmed to
the spoken word, gets a short random lead-in and tail, a random level and background
noise, and is written as 8 kHz mono 16-bit WAV. Every random choice comes from a
generator seeded by (seed, speaker, digit, take) and is recorded in ``generation.json``.

The generated corpus is committed under ``fixtures/demo_corpus`` so machines without
espeak-ng still run the demo; this module regenerates it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from explainer.data import META_NAME
from explainer.errors import UserError
from explainer.folders import staged_folder

SAMPLE_RATE = 8000
MAX_SAMPLES = 7900  # leave room in the one-second window for the random placement
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
GENERATION_NAME = "generation.json"
DEFAULT_SPEAKERS = 48
DEFAULT_TAKES = 1


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: espeak-ng language voice + variant, base pitch (0-99) and speed (wpm)."""

    language: str
    variant: str
    sex: str
    pitch: int
    speed: int
    accent: str
    age: int

    @property
    def espeak_name(self) -> str:
        return f"{self.language}+{self.variant}"


# Two closely related accents: in trials, voices mixing British and American vowels needed
# far more than the demo's minute of training to be recognised across speakers.
ACCENTS: tuple[tuple[str, str], ...] = (("en-us", "American"),)
# espeak-ng's plain voice variants (formant scaling and pitch only): the named variants
# add spectral tilts, breathiness or another synthesiser ("klatt"), each unlike any other.
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7")
N_VOICES = 48


def _voices(n: int = N_VOICES) -> tuple[Voice, ...]:
    """Alternating female and male voices, so the first N voices are balanced for any even N.

    A voice is a variant (formants, voice quality) with an accent, a base pitch and a
    speed; variants and accents rotate at different rates, so each voice is a new
    combination and a held-out voice's variant and accent are usually heard in training
    in other combinations, as with real speakers who share an accent.
    """
    rng = np.random.default_rng(20240101)  # fixed: the voice list is part of the code, not of a run
    voices = []
    for i in range(n // 2):
        for sex, variants, pitch_range, shift in (
            ("female", FEMALE_VARIANTS, (45, 80), 0),
            ("male", MALE_VARIANTS, (20, 55), 3),
        ):
            language, accent = ACCENTS[(i + shift + i // 5) % len(ACCENTS)]
            pitch, speed, age = (
                int(rng.integers(*pitch_range)),
                int(rng.integers(130, 175)),
                int(rng.integers(20, 65)),
            )
            voices.append(
                Voice(language, variants[i % len(variants)], sex, pitch, speed, accent, age)
            )
    return tuple(voices)


VOICES = _voices()


@dataclass(frozen=True)
class TakeParams:
    """The random choices behind one take (all recorded in ``generation.json``)."""

    pitch: int
    speed: int
    peak_dbfs: float
    snr_db: float
    lead_ms: float
    tail_ms: float


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, required=True, help="folder to write (AudioMNIST layout)"
    )
    parser.add_argument(
        "--speakers",
        type=int,
        default=DEFAULT_SPEAKERS,
        help=f"number of voices, 2..{len(VOICES)} (default {DEFAULT_SPEAKERS})",
    )
    parser.add_argument(
        "--takes",
        type=int,
        default=DEFAULT_TAKES,
        help=f"takes per digit and speaker (default {DEFAULT_TAKES})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of every random choice (default 0)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="parallel espeak-ng processes (default 2)"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing corpus at --out")


def run(args: argparse.Namespace) -> int:
    out = write_corpus(
        args.out,
        n_speakers=args.speakers,
        takes=args.takes,
        seed=args.seed,
        workers=args.workers,
        force=args.force,
    )
    n = args.speakers * args.takes * len(WORDS)
    print(f"wrote {n} recordings of {args.speakers} speakers to {out}")
    return 0


def write_corpus(
    out: Path,
    *,
    n_speakers: int = DEFAULT_SPEAKERS,
    takes: int = DEFAULT_TAKES,
    seed: int = 0,
    workers: int = 2,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Synthesise the demo corpus into ``out`` (written to a temporary folder, then renamed).

    Returns the corpus folder. Raises :class:`UserError` if espeak-ng is missing, the
    arguments are out of range, or ``out`` holds files and ``force`` is not set.
    """
    out = Path(out)
    _check_args(out, n_speakers, takes, force)
    version = espeak_version()
    voices = VOICES[:n_speakers]
    jobs = [(i + 1, v, d, k) for i, v in enumerate(voices) for d in range(10) for k in range(takes)]
    with staged_folder(out) as staging:
        params = _synthesise_all(staging, jobs, seed, workers, progress)
        _write_metadata(staging, voices)
        _write_generation(staging, voices, params, seed=seed, takes=takes, espeak=version)
    return out


def _check_args(out: Path, n_speakers: int, takes: int, force: bool) -> None:
    if not 2 <= n_speakers <= len(VOICES):
        raise UserError(f"--speakers must be 2..{len(VOICES)}, got {n_speakers}")
    if not 1 <= takes <= 50:
        raise UserError(f"--takes must be 1..50, got {takes}")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UserError(f"{out}: folder is not empty; pass --force to replace it")


def espeak_version() -> str:
    """The installed espeak-ng's version line; :class:`UserError` if it is not installed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise UserError(
            "espeak-ng is not installed (apt-get install espeak-ng); the committed "
            "fixtures/demo_corpus works without it"
        )
    result = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def _synthesise_all(
    staging: Path, jobs: list[tuple[int, Voice, int, int]], seed: int, workers: int, progress: bool
) -> dict[str, TakeParams]:
    from tqdm import tqdm

    def one(job: tuple[int, Voice, int, int]) -> tuple[str, TakeParams]:
        number, voice, digit, take = job
        rel = f"{number:02d}/{digit}_{number:02d}_{take}.wav"
        audio, params = synthesise_take(
            voice, digit, np.random.default_rng([seed, number, digit, take])
        )
        path = staging / rel
        path.parent.mkdir(exist_ok=True)
        sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
        return rel, params

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(one, jobs)
        return dict(
            tqdm(results, total=len(jobs), desc="synthesising", unit="clip", disable=not progress)
        )


def synthesise_take(
    voice: Voice, digit: int, rng: np.random.Generator
) -> tuple[np.ndarray, TakeParams]:
    """One take of ``digit`` by ``voice``: float32 audio at 8 kHz (under one second) and its parameters."""
    pitch = int(np.clip(voice.pitch + rng.integers(-5, 6), 0, 99))
    speed = int(round(voice.speed * rng.uniform(0.88, 1.12)))
    peak_dbfs, snr_db = float(rng.uniform(-14.0, -2.0)), float(rng.uniform(32.0, 45.0))
    lead_ms, tail_ms = float(rng.uniform(0.0, 30.0)), float(rng.uniform(0.0, 30.0))
    noise = rng.standard_normal(SAMPLE_RATE)
    while True:
        word = trim_silence(espeak(voice.espeak_name, WORDS[digit], pitch=pitch, speed=speed))
        pad = int(round((lead_ms + tail_ms) * SAMPLE_RATE / 1000))
        if word.size + pad <= MAX_SAMPLES:
            break
        speed = int(speed * 1.1)  # a slow take that would not fit in one second
    params = TakeParams(
        pitch, speed, round(peak_dbfs, 3), round(snr_db, 3), round(lead_ms, 3), round(tail_ms, 3)
    )
    return add_realism(word, params, noise), params


def espeak(voice: str, text: str, *, pitch: int, speed: int) -> np.ndarray:
    """Speak ``text`` with espeak-ng; float64 mono at 8 kHz."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "say.wav"
        cmd = ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(wav), text]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not wav.is_file():
            raise UserError(f"espeak-ng failed for voice {voice!r}: {result.stderr.strip()}")
        audio, rate = sf.read(wav, dtype="float64")
    g = gcd(rate, SAMPLE_RATE)
    return resample_poly(audio, SAMPLE_RATE // g, rate // g)


def trim_silence(audio: np.ndarray, *, threshold_db: float = -40.0, frame: int = 40) -> np.ndarray:
    """Cut leading and trailing frames (``frame`` samples) quieter than ``threshold_db`` re the loudest."""
    n = audio.size // frame
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-20)
    active = np.flatnonzero(20 * np.log10(rms / rms.max()) > threshold_db)
    return audio[active[0] * frame : (active[-1] + 1) * frame]


def add_realism(word: np.ndarray, params: TakeParams, noise: np.ndarray) -> np.ndarray:
    """Pad with a lead-in and tail, set the peak level, add white noise at the take's SNR."""
    lead = int(round(params.lead_ms * SAMPLE_RATE / 1000))
    tail = int(round(params.tail_ms * SAMPLE_RATE / 1000))
    clip = np.concatenate([np.zeros(lead), word, np.zeros(tail)])
    clip *= 10 ** (params.peak_dbfs / 20) / np.max(np.abs(clip))
    signal_rms = np.sqrt(np.mean(word**2)) * 10 ** (params.peak_dbfs / 20) / np.max(np.abs(word))
    clip += noise[: clip.size] * signal_rms * 10 ** (-params.snr_db / 20)
    return np.clip(clip, -1.0, 1.0).astype(np.float32)


def _write_metadata(folder: Path, voices: Sequence[Voice]) -> None:
    """``audioMNIST_meta.txt`` with the real file's fields, for voices numbered from 01."""
    meta = {
        f"{i + 1:02d}": {
            "accent": v.accent,
            "age": v.age,
            "gender": v.sex,
            "native speaker": "yes",
            "origin": f"Synthetic, espeak-ng, {v.espeak_name}",
            "recordingdate": "00-01-01-00-00-00",
            "recordingroom": "synthetic",
        }
        for i, v in enumerate(voices)
    }
    (folder / META_NAME).write_text(
        json.dumps(meta, indent=4, sort_keys=True) + "\n", encoding="utf-8"
    )


def _write_generation(
    folder: Path,
    voices: Sequence[Voice],
    params: dict[str, TakeParams],
    *,
    seed: int,
    takes: int,
    espeak: str,
) -> None:
    record: dict[str, Any] = {
        "generator": "python -m explainer corpus",
        "espeak_ng": espeak,
        "seed": seed,
        "takes_per_digit": takes,
        "sample_rate": SAMPLE_RATE,
        "words": list(WORDS),
        "speakers": {
            f"{i + 1:02d}": {**asdict(v), "espeak_voice": v.espeak_name}
            for i, v in enumerate(voices)
        },
        "takes": {rel: asdict(p) for rel, p in sorted(params.items())},
    }
    (folder / GENERATION_NAME).write_text(
        json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
