"""Cross-engine digit accuracy: train on espeak-ng voices, test on flite and festival voices.

A stand-in for unseen real speakers, which the project does not ship: the committed demo
corpus (48 espeak-ng voices, 8 kHz) trains AudioNet with each preset asked for; every
digit spoken by each flite voice and each installed festival voice is then classified
by ``explainer predict``'s placement and softmax, clean and under three changes:
white noise at 10 dB SNR, reverberation (a seeded exponentially decaying noise impulse
response, RT60 0.4 s) and another sample rate (written at 44.1 kHz; the reader resamples
to 8 kHz). Accuracy is over 10 digits per voice; chance is 10 %.

Usage: python benchmarks/cross_engine.py [--quick] [--presets speech,demo] [--workers N] [--run RUN]
(``--presets '' --run RUN`` tests a finished run only, without training.)
Prints one JSON object on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve, resample_poly

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from explainer import preprocessing as pp  # noqa: E402
from explainer.cli import main as explainer_main  # noqa: E402
from explainer.predict import files_place, predictions  # noqa: E402
from explainer.training import load_run  # noqa: E402

DEMO = REPO / "fixtures" / "demo_corpus"
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
FESTIVAL_VOICES = ("kal_diphone", "cmu_us_slt_arctic_hts")
CONDITIONS = ("clean", "noise_10db", "reverb_0.4s", "rate_44100")


def synthesise(out: Path) -> dict[str, list[tuple[Path, int]]]:
    """Each engine's voices saying each digit: engine -> [(wav, digit)]; missing engines skipped."""
    made: dict[str, list[tuple[Path, int]]] = {"flite": [], "festival": []}
    for voice in FLITE_VOICES if shutil.which("flite") else ():
        for digit, word in enumerate(WORDS):
            path = out / f"flite-{voice}-{digit}.wav"
            subprocess.run(["flite", "-voice", voice, "-t", word, "-o", str(path)], check=True)
            made["flite"].append((path, digit))
    for voice in FESTIVAL_VOICES if shutil.which("text2wave") else ():
        for digit, word in enumerate(WORDS):
            path = out / f"festival-{voice}-{digit}.wav"
            done = subprocess.run(
                ["text2wave", "-o", str(path), "-eval", f"(voice_{voice})"],
                input=word,
                text=True,
                capture_output=True,
            )
            if done.returncode != 0 or not path.is_file():
                print(f"festival voice {voice} is not installed; skipped", file=sys.stderr)
                break
            made["festival"].append((path, digit))
    return {engine: clips for engine, clips in made.items() if clips}


def changed(audio: np.ndarray, rate: int, condition: str, seed: int) -> tuple[np.ndarray, int]:
    """``audio`` (mono float) under ``condition``, and its sample rate."""
    rng = np.random.default_rng(seed)
    if condition == "clean":
        return audio, rate
    if condition == "noise_10db":
        noise = rng.standard_normal(audio.shape[0])
        scale = np.sqrt(np.mean(audio**2) / np.mean(noise**2) / 10.0)
        return audio + scale * noise, rate
    if condition == "reverb_0.4s":
        n = int(0.4 * rate)
        ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)  # -60 dB at 0.4 s
        ir[0] = 1.0
        wet = fftconvolve(audio, ir)[: audio.shape[0] + n // 2]
        return wet / np.max(np.abs(wet)) * np.max(np.abs(audio)), rate
    if condition == "rate_44100":
        return resample_poly(audio, 44100, rate), 44100
    raise ValueError(condition)


def test_files(clips: dict[str, list[tuple[Path, int]]], out: Path) -> list[dict]:
    """Write every clip under every condition; rows of engine, condition, path, digit."""
    rows = []
    for engine, items in clips.items():
        for i, (path, digit) in enumerate(items):
            audio, rate = sf.read(path, dtype="float64", always_2d=True)
            for condition in CONDITIONS:
                changed_audio, new_rate = changed(audio[:, 0], rate, condition, seed=i)
                target = out / condition / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                peak = max(1.0, float(np.max(np.abs(changed_audio))))
                sf.write(target, changed_audio / peak, new_rate, subtype="PCM_16")
                rows.append(
                    {"engine": engine, "condition": condition, "path": target, "digit": digit}
                )
    return rows


def train(preset: str, out: Path, args: argparse.Namespace) -> float:
    """Train AudioNet with ``preset`` on the demo corpus; seconds taken."""
    extra = ["--width", "0.25", "--epochs", "8"] if args.quick else []
    start = time.perf_counter()
    status = explainer_main(
        ["train", "--data", str(DEMO), "--out", str(out), "--preset", preset, "--no-cache",
         "--workers", str(args.workers), "--quiet", *extra]
    )  # fmt: skip
    if status != 0:
        raise SystemExit(f"training with preset {preset} failed ({status})")
    return time.perf_counter() - start


def accuracy_table(run_dir: Path, rows: list[dict]) -> dict[str, dict[str, float]]:
    """Engine -> condition -> accuracy of the run on those files."""
    run = load_run(run_dir)
    clips = files_place([r["path"] for r in rows], policy=pp.long_clip_policy(run.config), seed=0)
    predicted = [p["predicted"] for p in predictions(run, clips)]
    table: dict[str, dict[str, list[bool]]] = {}
    for row, guess in zip(rows, predicted, strict=True):
        table.setdefault(row["engine"], {}).setdefault(row["condition"], []).append(
            guess == str(row["digit"])
        )
    return {e: {c: round(float(np.mean(v)), 3) for c, v in cs.items()} for e, cs in table.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="quarter width, 8 epochs")
    parser.add_argument("--presets", default="speech,demo", help="comma-separated presets")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--run",
        type=Path,
        action="append",
        default=[],
        help="also (or, with --presets '', only) test this finished run trained on the demo corpus",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "raw").mkdir()
        rows = test_files(synthesise(tmp_path / "raw"), tmp_path / "test")
        result: dict = {
            "benchmark": "cross_engine",
            "quick": args.quick,
            "train_corpus": "fixtures/demo_corpus (espeak-ng, 48 voices)",
            "test_voices": sorted({r["path"].name.rsplit("-", 1)[0] for r in rows}),
            "n_test_clips_per_condition": len(rows) // len(CONDITIONS),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "presets": {},
        }
        for run_dir in args.run:
            summary = json.loads((run_dir / "summary.json").read_text())
            result["presets"][f"run:{summary['architecture']}"] = {
                "espeak_heldout_accuracy": round(summary["test_accuracy"], 3),
                "epochs": summary["epochs"],
                "accuracy": accuracy_table(run_dir, rows),
            }
        for preset in filter(None, args.presets.split(",")):
            print(f"training preset {preset}", file=sys.stderr)
            run_dir = tmp_path / f"run-{preset}"
            seconds = train(preset, run_dir, args)
            summary = json.loads((run_dir / "summary.json").read_text())
            result["presets"][preset] = {
                "train_seconds": round(seconds, 1),
                "espeak_heldout_accuracy": round(summary["test_accuracy"], 3),
                "best_epoch": summary["best_epoch"],
                "epochs": summary["epochs"],
                "warnings": summary.get("warnings", []),
                "accuracy": accuracy_table(run_dir, rows),
            }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
