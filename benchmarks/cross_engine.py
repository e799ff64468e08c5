"""Cross-engine digit accuracy: train on espeak-ng voices (plus one other engine's), test on other engines.

A stand-in for unseen real speakers, which the project does not ship. For each preset
asked for, ``--model`` (AudioNet or AlexNet) is trained in two arms:

- ``espeak``: on the committed demo corpus (48 espeak-ng voices, 8 kHz); tested on every
  flite voice and every installed festival voice;
- ``leave_out_ENGINE`` (leave one engine out): on the demo corpus plus every voice of
  the other engine (its clean clips, one per digit, all in the training part); tested
  on ENGINE's voices. A fairer stand-in for "a handful of training speakers of varied
  kinds" than espeak-ng alone.

Every arm validates and tests on the same espeak-ng voices (the demo corpus's
``auto:0`` split), reported as ``espeak_heldout_accuracy``. Test digits are classified
by ``explainer predict``'s placement and softmax, clean and under three changes: white
noise at 10 dB SNR, reverberation (a seeded exponentially decaying noise impulse
response, RT60 0.4 s) and another sample rate (written at 44.1 kHz; the reader
resamples to 8 kHz). Accuracy is over 10 digits per voice; chance is 10 %.
``--quick`` trains at quarter width for ``--epochs`` epochs (default 8) instead of the
preset's width and epochs. ``--takes N`` trains on the same 48 espeak-ng voices saying
each digit N times (synthesised with ``explainer corpus``; real corpora have many takes
per speaker), ``--train-voices K`` on only K of the split's training voices (a handful of
speakers, as a real study might have).

Usage: python benchmarks/cross_engine.py [--quick [--epochs N]] [--model audionet|alexnet]
       [--presets speech,demo] [--arms espeak,loeo] [--takes N] [--train-voices K]
       [--workers N] [--run RUN] [-- TRAIN_OPTION...]
(``--presets '' --run RUN`` tests a finished run only, without training; options after
``--`` go to every ``explainer train`` unchanged, to compare a recipe with the preset's.)
Prints one JSON object on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
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

from explainer import calibration as cal  # noqa: E402
from explainer import preprocessing as pp  # noqa: E402
from explainer.cli import main as explainer_main  # noqa: E402
from explainer.layouts import open_corpus  # noqa: E402
from explainer.predict import files_place  # noqa: E402
from explainer.splits import resolve_splits  # noqa: E402
from explainer.train_config import representation_of  # noqa: E402
from explainer.training import load_run  # noqa: E402

DEMO = REPO / "fixtures" / "demo_corpus"
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
FESTIVAL_VOICES = ("kal_diphone", "cmu_us_slt_arctic_hts")
CONDITIONS = ("clean", "noise_10db", "reverb_0.4s", "rate_44100")
# The synthetic voices' sexes, which the training corpus's metadata needs.
VOICE_SEXES = {
    "flite-kal": "male",
    "flite-kal16": "male",
    "flite-awb": "male",
    "flite-rms": "male",
    "flite-slt": "female",
    "festival-kal_diphone": "male",
    "festival-cmu_us_slt_arctic_hts": "female",
}
QUICK_EPOCHS = 8


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


def train(preset: str, data: Path, out: Path, args: argparse.Namespace, split: Path) -> float:
    """Train ``args.model`` with ``preset`` on ``data`` and ``split``; seconds taken."""
    extra = ["--width", "0.25", "--epochs", str(args.epochs)] if args.quick else []
    extra += args.train_options
    start = time.perf_counter()
    # Energy placement for clips over a second, the one ``predict`` uses for every test clip.
    status = explainer_main(
        ["train", "--data", str(data), "--out", str(out), "--preset", preset,
         "--model", args.model, "--split", str(split), "--long-clips", "energy",
         "--no-cache", "--workers", str(args.workers), "--quiet", *extra]
    )  # fmt: skip
    if status != 0:
        raise SystemExit(f"training with preset {preset} failed ({status})")
    return time.perf_counter() - start


def training_corpus(
    espeak: Path, added: list[tuple[Path, int]], out: Path, train_voices: int | None
) -> tuple[Path, Path]:
    """A CSV manifest of the ``espeak`` corpus plus the ``added`` clips (one speaker per
    voice), and a split file: that corpus's ``auto:0`` split, its training part cut to the
    first ``train_voices`` voices if given, with every added voice trained on."""
    table = open_corpus(espeak, progress=False)
    rows = [(r.path, r.digit, r.speaker, r.sex) for r in table]
    voices = sorted({voice_of(path) for path, _ in added})
    rows += [(path, digit, voice_of(path), VOICE_SEXES[voice_of(path)]) for path, digit in added]
    out.mkdir(parents=True)
    manifest = out / "corpus.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "speaker", "sex"])
        writer.writerows((str(path), digit, speaker, sex) for path, digit, speaker, sex in rows)
    [split] = resolve_splits("auto:0", task="digit", speaker_sexes=table.speaker_sexes())
    split_file = out / "split.json"
    split_file.write_text(
        json.dumps({"train": [*split.train[:train_voices], *voices], "validate": list(split.validate),
                    "test": list(split.test)}),
        encoding="utf-8",
    )  # fmt: skip
    return manifest, split_file


def espeak_corpus(takes: int, out: Path) -> Path:
    """The espeak-ng training corpus: the committed demo corpus, or with ``takes`` > 1 the
    same 48 voices (``explainer corpus``'s seed 0) saying each digit ``takes`` times."""
    if takes == 1:
        return DEMO
    print(f"synthesising the espeak-ng corpus with {takes} takes", file=sys.stderr)
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the benchmark's JSON alone
        status = explainer_main(["corpus", "--out", str(out), "--takes", str(takes)])
    if status != 0:
        raise SystemExit("synthesising the espeak-ng corpus failed")
    return out


def voice_of(path: Path) -> str:
    """The voice of a synthesised clip ``ENGINE-VOICE-DIGIT.wav``: ``ENGINE-VOICE``."""
    return path.stem.rsplit("-", 1)[0]


def arms(
    clips: dict[str, list[tuple[Path, int]]],
    wanted: list[str],
    out: Path,
    espeak: Path,
    train_voices: int | None,
) -> dict[str, tuple[Path, Path, str | None]]:
    """Arm name -> (training data, split file, the one engine tested or None for every one)."""
    made: dict[str, tuple[Path, Path, str | None]] = {}
    if "espeak" in wanted:
        made["espeak"] = (*training_corpus(espeak, [], out / "espeak", train_voices), None)
    if "loeo" in wanted and len(clips) > 1:
        for engine in clips:
            added = [clip for other, items in clips.items() if other != engine for clip in items]
            made[f"leave_out_{engine}"] = (
                *training_corpus(espeak, added, out / engine, train_voices),
                engine,
            )
    return made


def run_result(run_dir: Path, rows: list[dict], engine: str | None) -> dict:
    """A finished run's espeak-ng held-out accuracy, recipe facts and cross-engine table."""
    summary = json.loads((run_dir / "summary.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    tested = [r for r in rows if engine in (None, r["engine"])]
    return {
        "input": representation_of(config),
        "lr": config["lr"],
        "espeak_heldout_accuracy": round(summary["test_accuracy"], 3),
        "best_epoch": summary.get("best_epoch"),
        "epochs": summary["epochs"],
        "train_voices_added": [s for s in config["split"]["train"] if s in VOICE_SEXES],
        "warnings": summary.get("warnings", []),
        "calibration": summary.get("calibration"),
        "accuracy": accuracy_table(run_dir, tested),
    }


def accuracy_table(run_dir: Path, rows: list[dict]) -> dict[str, dict]:
    """Engine -> condition -> accuracy of the run on those files, engine -> clean accuracy
    of each voice (``clean_by_voice``), and engine -> calibration:
    expected calibration error and mean confidence on wrong answers, with the model's own
    softmax (``raw``) and scaled by the run's temperature (``scaled``, what ``predict``
    reports; the temperature is in the run's ``calibration``)."""
    run = load_run(run_dir)
    clips = files_place([r["path"] for r in rows], policy=pp.long_clip_policy(run.config), seed=0)
    logits = run.predict(np.stack([pp.model_input(c.window, run.representation) for c in clips]))
    labels = np.array([run.classes.index(str(r["digit"])) for r in rows])
    engines = np.array([r["engine"] for r in rows])
    conditions = np.array([r["condition"] for r in rows])
    voices = np.array([voice_of(r["path"]) for r in rows])
    correct = logits.argmax(1) == labels
    table: dict[str, dict] = {}
    for engine in sorted(set(engines)):
        mine = engines == engine
        table[engine] = {
            c: round(float(correct[mine & (conditions == c)].mean()), 3)
            for c in CONDITIONS
            if (mine & (conditions == c)).any()
        }
        clean = mine & (conditions == "clean")
        table[engine]["clean_by_voice"] = {
            voice: round(float(correct[clean & (voices == voice)].mean()), 3)
            for voice in sorted(set(voices[clean]))
        }
        wrong = mine & ~correct
        table[engine]["calibration"] = {
            name: {
                "ece": round(cal.expected_calibration_error(p[mine], labels[mine]), 3),
                "wrong_confidence": round(float(p[wrong].max(1).mean()), 3)
                if wrong.any()
                else None,
            }
            for name, p in (
                ("raw", cal.softmax(logits)),
                ("scaled", cal.softmax(logits, run.temperature)),
            )
        }
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="quarter width, --epochs epochs")
    parser.add_argument(
        "--epochs", type=int, default=QUICK_EPOCHS, help=f"with --quick (default {QUICK_EPOCHS})"
    )
    parser.add_argument("--model", choices=("audionet", "alexnet"), default="audionet")
    parser.add_argument("--presets", default="speech,demo", help="comma-separated presets")
    parser.add_argument(
        "--arms",
        default="espeak,loeo",
        help="comma-separated: espeak (demo corpus only), loeo (leave one engine out)",
    )
    parser.add_argument(
        "--takes",
        type=int,
        default=1,
        help="takes per digit and espeak-ng voice: above 1, a corpus of the demo corpus's "
        "voices is synthesised with that many (needs espeak-ng) instead of the committed one",
    )
    parser.add_argument(
        "--train-voices",
        type=int,
        help="train on only the first N espeak-ng voices of the split's training part",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--run",
        type=Path,
        action="append",
        default=[],
        help="also (or, with --presets '', only) test this finished run trained on the demo corpus",
    )
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    args.train_options = argv[cut + 1 :]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "raw").mkdir()
        clips = synthesise(tmp_path / "raw")
        rows = test_files(clips, tmp_path / "test")
        espeak = espeak_corpus(args.takes, tmp_path / "espeak")
        result: dict = {
            "benchmark": "cross_engine",
            "quick": args.quick,
            "quick_epochs": args.epochs if args.quick else None,
            "train_options": args.train_options,
            "model": args.model,
            "train_corpus": "fixtures/demo_corpus (espeak-ng, 48 voices)"
            if args.takes == 1
            else f"explainer corpus --takes {args.takes} (espeak-ng, 48 voices)",
            "takes": args.takes,
            "train_voices": args.train_voices,
            "test_voices": sorted({voice_of(r["path"]) for r in rows}),
            "n_test_clips_per_condition": len(rows) // len(CONDITIONS),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "presets": {},
        }
        for run_dir in args.run:
            result["presets"][f"run:{run_dir}"] = {"espeak": run_result(run_dir, rows, None)}
        planned = arms(clips, args.arms.split(","), tmp_path / "corpora", espeak, args.train_voices)
        for preset in filter(None, args.presets.split(",")):
            result["presets"][preset] = {}
            for arm, (data, split, engine) in planned.items():
                print(f"training {args.model}, preset {preset}, arm {arm}", file=sys.stderr)
                run_dir = tmp_path / f"run-{preset}-{arm}"
                seconds = train(preset, data, run_dir, args, split)
                done = {"train_seconds": round(seconds, 1), **run_result(run_dir, rows, engine)}
                result["presets"][preset][arm] = done
        result["load_average"] = {"start": load_before, "end": os.getloadavg()}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
