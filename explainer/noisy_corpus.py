"""``python -m explainer degrade``: a copy of a corpus with noise at a given SNR.

    python -m explainer degrade --data DIR --out DIR --snr-db 0 [--speakers 02,07 --seed 0]

A source of wrong decisions for informative bundles: a model right on nearly every clean
clip errs on noisy ones. Every clip (or every clip of ``--speakers``) is copied with white
Gaussian noise whose RMS is ``--snr-db`` below the clip's own RMS; ``degradation.json``
records the SNR, the seed and every degraded clip. The bundle command reads it into each
stimulus's provenance.

Noise is drawn here rather than with audiomentations' ``AddGaussianSNR``: that draws
from NumPy's global random state, while every random choice here must take an explicit,
recorded seed (one generator per clip, seeded from the seed and the clip's path).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from explainer.errors import UserError
from explainer.folders import staged_folder

DEGRADATION_FILE = "degradation.json"
MIN_SNR_DB, MAX_SNR_DB = -20.0, 60.0


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--data", type=Path, required=True, help="clean corpus folder (AudioMNIST layout)")
    add("--out", type=Path, required=True, help="corpus folder to write")
    add("--snr-db", type=float, required=True, help="signal-to-noise ratio of every copy, dB")
    add("--speakers", help="comma-separated speaker ids to copy (default: all)")
    add("--seed", type=int, default=0, help="noise seed, recorded (default 0)")
    add("--force", action="store_true", help="replace an existing --out folder")


def run(args: argparse.Namespace) -> int:
    from explainer.data import load_recordings

    if not MIN_SNR_DB <= args.snr_db <= MAX_SNR_DB:
        raise UserError(
            f"--snr-db must be within {MIN_SNR_DB:g}..{MAX_SNR_DB:g}, got {args.snr_db:g}"
        )
    if args.out.exists() and not args.force:
        raise UserError(f"{args.out} exists; give --force to replace it")
    table = load_recordings(args.data, progress=False)
    if args.speakers:
        wanted = [s.strip() for s in args.speakers.split(",") if s.strip()]
        unknown = sorted(set(wanted) - set(table.speakers()))
        if unknown:
            raise UserError(f"--speakers: {', '.join(unknown)} not in {args.data}")
        table = table.where(speakers=wanted)
    n = write_degraded(table, args.out, snr_db=args.snr_db, seed=args.seed)
    print(f"wrote {args.out}: {n} clips at {args.snr_db:g} dB SNR", file=sys.stderr)
    return 0


def add_noise(clip: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``clip`` plus white Gaussian noise ``snr_db`` below the clip's RMS.

    Parameters
    ----------
    clip
        Shape ``(n,)`` float in [-1, 1].

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)`` float64, scaled down as a whole if the sum would clip.
    """
    clip = np.asarray(clip, dtype=np.float64)
    rms = float(np.sqrt(np.mean(clip**2)))
    noisy = clip + rng.standard_normal(clip.shape[0]) * rms * 10 ** (-snr_db / 20)
    peak = float(np.max(np.abs(noisy)))
    return noisy * (0.99 / peak) if peak > 0.99 else noisy


def clip_rng(seed: int, relpath: str) -> np.random.Generator:
    """One generator per clip, so a clip's noise does not depend on which others are copied."""
    digest = hashlib.sha256(f"{seed}:{relpath}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def write_degraded(table: Any, out: Path, *, snr_db: float, seed: int) -> int:
    """Write the noisy copy of ``table`` to ``out`` (staged, then renamed); return its size."""
    from tqdm import tqdm

    from explainer import preprocessing as pp
    from explainer.data import read_audio

    clips = {}
    with staged_folder(out) as staging:
        for rec in tqdm(
            list(table), desc="adding noise", unit="clip", file=sys.stderr, disable=None
        ):
            audio = read_audio(rec.path, target_sr=pp.SAMPLE_RATE)
            target = staging / rec.relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            noisy = add_noise(audio, snr_db, clip_rng(seed, rec.relpath))
            sf.write(target, noisy, pp.SAMPLE_RATE, subtype="PCM_16")
            clips[rec.relpath] = {"snr_db": snr_db, "source": rec.relpath}
        shutil.copy2(table.root / "audioMNIST_meta.txt", staging)
        record = {"noise": "white gaussian", "snr_db": snr_db, "seed": seed, "clips": clips}
        record["source"] = {"corpus": table.describe(), "fingerprint": table.fingerprint()}
        text = json.dumps(record, indent=1, sort_keys=True)
        (staging / DEGRADATION_FILE).write_text(text + "\n", encoding="utf-8")
    return len(clips)
