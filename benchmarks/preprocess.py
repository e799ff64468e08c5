"""Clips per second through the paper's preprocessing, in 1 and in 2 processes.

The clips are the demo corpus's, resampled to 48 kHz (the real AudioMNIST's rate) into a
temporary folder first, so each clip pays what a real one does: read a 48 kHz WAV,
resample to 8 kHz, place in one second, compute the network input, store it in the
memory-mapped cache. ``clips_per_s_1proc`` and ``clips_per_s_2proc`` are for the
spectrogram (AlexNet) input, the dearer of the two; ``by_representation`` has both.

Usage: python benchmarks/preprocess.py [--quick] [--clips N] [--source-rate HZ]
Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from explainer.cache import preprocess  # noqa: E402
from explainer.data import load_recordings  # noqa: E402

DEMO = REPO / "fixtures" / "demo_corpus"


def copy_at_rate(table: list, folder: Path, rate: int) -> Path:
    """Write the clips (and metadata) at ``rate`` Hz into ``folder``, in the same layout."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "audioMNIST_meta.txt").write_text((DEMO / "audioMNIST_meta.txt").read_text())
    for r in table:
        audio, source_rate = sf.read(r.path, dtype="float64")
        g = gcd(rate, source_rate)
        target = folder / r.relpath
        target.parent.mkdir(exist_ok=True)
        sf.write(target, resample_poly(audio, rate // g, source_rate // g), rate, subtype="PCM_16")
    return folder


def clips_per_second(recordings: list, representation: str, workers: int, cache: Path) -> float:
    start = time.perf_counter()
    result = preprocess(
        recordings, representation, seed=workers, cache_dir=cache, workers=workers, progress=False
    )
    elapsed = time.perf_counter() - start
    assert result.built
    return len(recordings) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="120 clips (under a minute)")
    parser.add_argument(
        "--clips", type=int, help="number of clips (default: all 480 of the demo corpus, quick 120)"
    )
    parser.add_argument(
        "--source-rate", type=int, default=48000, help="sample rate of the source WAVs (Hz)"
    )
    args = parser.parse_args()
    n = args.clips or (120 if args.quick else None)
    demo = list(load_recordings(DEMO, progress=False))[:n]
    with tempfile.TemporaryDirectory() as tmp:
        source = copy_at_rate(demo, Path(tmp) / "data", args.source_rate)
        recordings = list(load_recordings(source, progress=False))
        results = {
            rep: {
                w: clips_per_second(recordings, rep, w, Path(tmp) / f"cache-{rep}-{w}")
                for w in (1, 2)
            }
            for rep in ("waveform", "spectrogram")
        }
        # One placement per clip (placements multiply it); float16 inputs plus the index.
        bytes_per_clip = {
            rep: round(
                sum(
                    f.stat().st_size
                    for f in (Path(tmp) / f"cache-{rep}-1").rglob("*")
                    if f.is_file()
                )
                / len(recordings)
            )
            for rep in ("waveform", "spectrogram")
        }
    print(
        json.dumps(
            {
                "clips_per_s_1proc": round(results["spectrogram"][1], 1),
                "clips_per_s_2proc": round(results["spectrogram"][2], 1),
                "by_representation": {
                    rep: {"clips_per_s_1proc": round(r[1], 1), "clips_per_s_2proc": round(r[2], 1)}
                    for rep, r in results.items()
                },
                "cache_bytes_per_clip": bytes_per_clip,
                "clips": len(recordings),
                "source_rate_hz": args.source_rate,
                "machine": {
                    "cpus": __import__("os").cpu_count(),
                    "python": platform.python_version(),
                    "numpy": np.__version__,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
