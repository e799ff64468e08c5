"""``python -m explainer train``: train AudioNet or AlexNet on a corpus, and load trained runs.

Presets: ``paper`` reproduces the paper's solver (SGD, momentum 0.9, batch 100; AudioNet
lr 1e-4 for 50,000 steps, AlexNet lr 1e-3 for 10,000 steps with gradient clipping 5) at
full width; ``demo`` trains a quarter-width network with Adam in about a minute on the
demo corpus; ``auto`` (default) picks ``paper`` when every AudioMNIST speaker is present.
Any option given on the command line overrides the preset.

``--model-spec SPEC --no-train`` evaluates an own model's given weights instead of
training: the same run folder, on the split's test speakers (docs/own-model.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from explainer import run_files as rf
from explainer.augmentation import AUGMENTATIONS
from explainer.data import TASK_CLASSES, TASKS, RecordingTable, read_audio
from explainer.errors import UserError
from explainer.layouts import open_corpus
from explainer.models import MODELS
from explainer.preprocessing import LONG_CLIP_POLICIES
from explainer.splits import Split, paper_splits, resolve_splits
from explainer.train_config import (
    NOT_TRAINED,
    PRESETS,
    TRAINED,
    TUNABLE,
    WEIGHTS_GIVEN,
    RunOptions,
    TrainConfig,
    classes_of,
    representation_of,
)
from explainer.trainer import RunTrainer, finished_line, write_given_run

ALEXNET_INPUTS = ("spectrogram", "spectrogram-above-floor")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--data",
        type=Path,
        required=True,
        help="corpus folder (AudioMNIST layout, folder per class, flat D_SPEAKER_TAKE.wav) or CSV manifest",
    )
    add(
        "--out",
        type=Path,
        required=True,
        help="run folder to write (one sub-folder per split with ':all')",
    )
    add("--model", choices=sorted(MODELS), default="audionet", help="network (default audionet)")
    add(
        "--model-spec",
        type=Path,
        metavar="JSON",
        help="train your own PyTorch model instead: a model description (factory or "
        "TorchScript, input front end, rate, window, labels; see docs/own-model.md)",
    )
    add(
        "--no-train",
        action="store_true",
        help="with --model-spec: evaluate the description's trained weights as they are and "
        "write a run folder for them (test speakers of --split), instead of training",
    )
    add(
        "--input",
        choices=ALEXNET_INPUTS,
        help="AlexNet's input: spectrogram (dB below the maximum, the paper's) or "
        "spectrogram-above-floor (dB above the input's floor, so silence is exactly 0)",
    )
    add("--task", choices=TASKS, default="digit", help="what to classify (default digit)")
    add(
        "--split",
        default="auto:0",
        help="paper:K|generic:K|kfoldN:K|loso:K|auto:K (K a number or 'all') or a JSON "
        "file (default auto:0)",
    )
    add("--split-seed", type=int, default=0, help="seed of generic splits (default 0)")
    add(
        "--preset",
        choices=["auto", *PRESETS],
        default="auto",
        help="paper, demo, speech or auto (paper on the full AudioMNIST, demo on a generated "
        "corpus, speech on real recordings)",
    )
    add(
        "--seed",
        type=int,
        default=0,
        help="seed of weights, batch order, dropout and clip placement (default 0)",
    )
    add("--width", type=float, help="channel multiplier (1.0 = the paper's network)")
    add("--optimizer", choices=["sgd", "adam", "adamw"], help="adamw: decoupled weight decay")
    add("--lr", type=float, help="learning rate")
    add("--momentum", type=float, help="SGD momentum")
    add(
        "--weight-decay",
        type=float,
        help="L2 penalty of the optimiser, decoupled with adamw (paper: 0)",
    )
    add(
        "--label-smoothing",
        type=float,
        help="share of each training target spread evenly over all classes, 0 to below 1 "
        "(default 0: one-hot targets)",
    )
    add("--batch-size", type=int)
    add("--epochs", type=int, help="passes over the training set")
    add("--max-steps", type=int, help="cap on optimisation steps (the paper counts iterations)")
    add("--grad-clip", type=float, help="clip the gradient's L2 norm (AlexNet in the paper: 5)")
    add("--placements", type=int, help="random placements per training clip (paper: 1)")
    add("--dropout", type=float, help="dropout rate of the fully connected layers (paper: 0.5)")
    add(
        "--lr-schedule",
        choices=["constant", "cosine", "plateau"],
        help="learning rate over the run: constant (paper), cosine decay, or halved after "
        "2 epochs without a better validation accuracy",
    )
    add(
        "--augment",
        choices=AUGMENTATIONS,
        help="training-copy augmentation: none, speech (gain, noise, band-pass, pitch; "
        "SpecAugment masks for spectrograms) or speech-wide (more pitch, spectral colour "
        "and tilt, two masks of each kind)",
    )
    add(
        "--patience",
        type=int,
        help="stop after this many epochs without a better validation accuracy",
    )
    add(
        "--speed-perturbation",
        type=float,
        metavar="SPREAD",
        help="training copies play 1 ± SPREAD times faster (augmentation; paper: 0)",
    )
    add(
        "--subset",
        type=int,
        metavar="TAKES",
        help="use only takes 0..TAKES-1 of each digit and speaker",
    )
    add(
        "--long-clips",
        choices=LONG_CLIP_POLICIES,
        default="refuse",
        help="clips longer than 1 s: refuse (default), keep the centre second, a random "
        "(seeded) second, or the second with the most energy",
    )
    add(
        "--crop-long-clips",
        dest="long_clips",
        action="store_const",
        const="centre",
        help="the same as --long-clips centre",
    )
    add(
        "--drop-duplicates",
        action="store_true",
        help="keep one of each group of identical recordings",
    )
    add(
        "--skip-unknown-speakers",
        action="store_true",
        help="leave out speakers missing from the metadata",
    )
    add(
        "--cache-dir",
        type=Path,
        help="preprocessing cache (default $HEARXAI_CACHE_DIR or ~/.cache/hearxai)",
    )
    add("--no-cache", action="store_true", help="preprocess in memory without caching")
    add("--workers", type=int, default=2, help="preprocessing processes (default 2)")
    add("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    add(
        "--resume",
        action="store_true",
        help="continue an interrupted run in --out with its saved configuration",
    )
    add("--force", action="store_true", help="replace an existing run in --out")
    add(
        "--stop-after",
        type=int,
        metavar="STEPS",
        help="stop (resumably) after this many steps, as if interrupted",
    )
    add("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from explainer.cache import default_cache_dir

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    options = RunOptions(
        cache_dir=None if args.no_cache else (args.cache_dir or default_cache_dir()),
        workers=args.workers,
        progress=not args.quiet,
        stop_after=args.stop_after,
    )
    if args.no_train:
        _check_no_train(args)
    if args.resume:
        result = resume_run(args.out, args.data, options)
        return 0 if result else 3
    spec = own_model_spec(args)  # checked first: a wrong description costs no corpus reading
    table = load_table(args.data, args)
    _report_long_clips(table, args.long_clips)
    configs = configs_from_args(args, table, spec)
    multiple = len(configs) > 1
    for config in configs:
        out = args.out / config.split["name"].replace(":", "-") if multiple else args.out
        if args.no_train:
            evaluate_given(config, table, out, options, force=args.force)
            continue
        prepare_run_dir(out, force=args.force)
        if train(config, table, out, options) is None:
            return 3
    return 0


def _check_no_train(args: argparse.Namespace) -> None:
    """``--no-train`` evaluates an own model's weights: training options do not apply."""
    if args.model_spec is None:
        raise UserError("--no-train needs --model-spec (a description naming the trained weights)")
    given = [f"--{key.replace('_', '-')}" for key in TUNABLE if getattr(args, key) is not None]
    given += [
        f"--{key.replace('_', '-')}" for key in ("resume", "stop_after") if getattr(args, key)
    ]
    if args.preset != "auto":
        given.append("--preset")
    if given:
        raise UserError(
            f"{', '.join(given)}: training options do not apply with --no-train (nothing is trained)"
        )


def _report_long_clips(table: RecordingTable, policy: str) -> None:
    """Refuse long clips up front (all of them named by count), or say how many get cropped."""
    from explainer.check import long_clips_message

    message = long_clips_message(table, policy)
    if message is not None and policy == "refuse":
        raise UserError(message)
    if message is not None:
        print(f"note: {message}", file=sys.stderr)


def load_table(data: Path, args: argparse.Namespace) -> RecordingTable:
    """The corpus, with the loader options the run records."""
    table = open_corpus(
        data,
        missing_metadata="skip" if args.skip_unknown_speakers else "error",
        drop_duplicates=args.drop_duplicates,
        progress=not getattr(args, "quiet", False),
    )
    for group in table.duplicates:
        print(f"note: identical audio in {', '.join(group)}", file=sys.stderr)
    return table.where(max_takes=args.subset) if args.subset else table


def configs_from_args(
    args: argparse.Namespace, table: RecordingTable, spec: dict[str, Any] | None = None
) -> list[TrainConfig]:
    """One configuration per split named by ``--split``, preset values overridden by options.

    ``spec`` is the checked description of the researcher's own model, if any.
    """
    given = spec is not None and getattr(args, "no_train", False)
    if given:
        preset, values = "none", {**NOT_TRAINED, "input": _alexnet_input(args, spec)}
    else:
        preset, values = _recipe(args, table, spec)
    splits = resolve_splits(
        args.split, task=args.task, speaker_sexes=table.speaker_sexes(), seed=args.split_seed
    )
    return [
        TrainConfig(
            architecture=args.model if spec is None else spec["name"],
            model_spec=spec,
            task=args.task,
            preset=preset,
            split=split.to_dict(),
            split_seed=args.split_seed,
            seed=args.seed,
            long_clips=args.long_clips,
            max_takes=args.subset,
            drop_duplicates=args.drop_duplicates,
            skip_unknown_speakers=args.skip_unknown_speakers,
            provenance=WEIGHTS_GIVEN if given else TRAINED,
            **values,
        )
        for split in splits
    ]


# Measured in docs/benchmarks.md ("Explainer: real recordings") and issue 16's recordings.
ALEXNET_ON_FEW_SPEAKERS = (
    "AudioNet (the default, the paper's) generalised worse than AlexNet to speakers it was "
    "not trained on, on a few real speakers (31.6 % against 65-72 %) and on synthetic "
    "voices of other engines (trained in full, 24-35 % against 74-90 %); for recordings "
    "of a few speakers, add --model alexnet"
)


def _recipe(
    args: argparse.Namespace, table: RecordingTable, spec: dict[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """The preset's name and its values, overridden by the options given."""
    preset = args.preset
    if preset == "auto":
        preset = auto_preset(table)
        print(f"preset: {preset}", file=sys.stderr)
        if preset == "speech" and spec is None and args.model == "audionet":
            print(f"note: {ALEXNET_ON_FEW_SPEAKERS}", file=sys.stderr)
    # An own model trains with the recipe of the paper's network reading the same kind of input.
    network = (
        args.model if spec is None else ("audionet" if spec["input"] == "waveform" else "alexnet")
    )
    values = {"weight_decay": 0.0, "augment": "none", "patience": None, "label_smoothing": 0.0}
    values.update(PRESETS[preset][network])
    if spec is not None:
        # The researcher's network fixes its width, dropout and front end.
        values.update(width=1.0, dropout=0.0)
        values.pop("input", None)
    values.update({k: getattr(args, k) for k in TUNABLE if getattr(args, k) is not None})
    values["input"] = _alexnet_input(args, spec, values.get("input"))
    _check_values(values)
    return preset, values


def _alexnet_input(
    args: argparse.Namespace, spec: dict[str, Any] | None, preset_input: str | None = None
) -> str | None:
    """``--input`` if given (AlexNet only), else the preset's AlexNet input (None: the paper's)."""
    chosen = getattr(args, "input", None)
    if chosen is not None and (spec is not None or args.model != "alexnet"):
        raise UserError(
            "--input applies to --model alexnet only (a model description declares its own)"
        )
    return chosen or preset_input


def own_model_spec(args: argparse.Namespace) -> dict[str, Any] | None:
    """The checked ``--model-spec`` description (its network built once, to check it), or None."""
    from explainer.own_model import build_own_model, load_spec, require_weights

    if getattr(args, "model_spec", None) is None:
        return None
    spec = load_spec(args.model_spec, TASK_CLASSES[args.task])
    if getattr(args, "no_train", False):
        require_weights(spec, args.model_spec)
    build_own_model(spec)
    return spec


def auto_preset(table: RecordingTable) -> str:
    """ "paper" on the full AudioMNIST, "demo" on a corpus ``explainer corpus`` generated
    (it writes ``generation.json``), "speech" (the recipe for real recordings) otherwise."""
    from explainer.corpus import GENERATION_NAME

    if set(paper_splits("digit")[0].speakers) <= set(table.speakers()):
        return "paper"
    return "demo" if (table.root / GENERATION_NAME).is_file() else "speech"


def _check_values(values: dict[str, Any]) -> None:
    if values["width"] <= 0:
        raise UserError(f"--width must be positive, got {values['width']}")
    if values["batch_size"] < 1 or values["placements"] < 1:
        raise UserError("--batch-size and --placements must be at least 1")
    if not (values["epochs"] or values["max_steps"]):
        raise UserError("give --epochs or --max-steps")
    if not 0.0 <= values["label_smoothing"] < 1.0:
        raise UserError(f"--label-smoothing must be in [0, 1), got {values['label_smoothing']}")
    if values["lr"] <= 0:
        raise UserError(f"--lr must be positive, got {values['lr']}")
    if not 0.0 <= values["speed_perturbation"] < 0.5:
        raise UserError(
            f"--speed-perturbation must be in [0, 0.5), got {values['speed_perturbation']}"
        )
    if values["patience"] is not None and values["patience"] < 1:
        raise UserError(f"--patience must be at least 1, got {values['patience']}")
    if values["weight_decay"] < 0:
        raise UserError(f"--weight-decay must not be negative, got {values['weight_decay']}")
    if not 0.0 <= values["dropout"] < 1.0:
        raise UserError(f"--dropout must be in [0, 1), got {values['dropout']}")


RUN_FILES = (
    rf.MODEL_NAME,
    rf.CONFIG_NAME,
    rf.METRICS_NAME,
    rf.CHECKPOINT_NAME,
    rf.PREDICTIONS_NAME,
    rf.SUMMARY_NAME,
    rf.FIGURES_DIR,
    rf.MILESTONES_DIR,
)


def check_run_dir(out: Path, *, force: bool) -> None:
    """Refuse ``out`` if it is a file, a run (unless ``force``) or holds foreign files."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            hint = (
                "pass --resume to continue it or "
                if (out / rf.CHECKPOINT_NAME).exists()
                else "pass "
            )
            raise UserError(f"{out}: run folder is not empty; {hint}--force to start over")
        foreign = sorted(p.name for p in out.iterdir() if p.name not in RUN_FILES)
        if foreign:
            raise UserError(
                f"{out}: holds files that are not part of a run ({', '.join(foreign[:3])}); choose another --out"
            )


def prepare_run_dir(out: Path, *, force: bool) -> None:
    """Create ``out``; refuse to overwrite a run unless ``force``, and never delete foreign files."""
    check_run_dir(out, force=force)
    if out.is_dir():
        for name in RUN_FILES:
            target = out / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def split_parts(table: RecordingTable, split: Split) -> dict[str, RecordingTable]:
    """The recordings of each part of ``split``; every listed speaker must have recordings."""
    missing = sorted(set(split.speakers) - set(table.speakers()))
    if missing:
        raise UserError(
            f"split {split.name} names speakers {', '.join(missing)} with no recordings in {table.root}"
        )
    return {
        "train": table.where(speakers=split.train),
        "validate": table.where(speakers=split.validate),
        "test": table.where(speakers=split.test),
    }


def describe_data(
    table: RecordingTable, parts: dict[str, RecordingTable], split: Split
) -> dict[str, Any]:
    """The training data description a bundle records: what, a fingerprint, how many, which split."""
    used = table.where(speakers=split.speakers)
    counts = " / ".join(f"{len(parts[p].speakers())} {p}" for p in ("train", "validate", "test"))
    return {
        "description": f"{used.describe()}; speaker-disjoint split {split.name} ({counts} speakers)",
        "fingerprint": used.fingerprint(),
        "n_recordings": len(used),
        "split": split.to_dict(),
        "corpus": table.root.name,
    }


def train(
    config: TrainConfig, table: RecordingTable, out: Path, options: RunOptions
) -> dict[str, Any] | None:
    """Train one run into ``out`` (already prepared); returns its summary, or None if stopped early."""
    split = Split.from_dict(config.split)
    parts = split_parts(table, split)
    data = describe_data(table, parts, split)
    rf.write_json(out / rf.CONFIG_NAME, {**asdict(config), "data": data})
    return RunTrainer(config, parts, out, options, data).fit(resume=False)


def evaluate_given(
    config: TrainConfig, table: RecordingTable, out: Path, options: RunOptions, *, force: bool
) -> dict[str, Any]:
    """Write the run folder of an own model's given weights (``--no-train``) into ``out``.

    It is written into a hidden sibling folder and renamed into place when complete, so a
    failure leaves no half-written run (and a run ``--force`` replaces stays until then).
    """
    split = Split.from_dict(config.split)
    parts = split_parts(table, split)
    data = describe_data(table, parts, split)
    # A bundle shows this as its model's training data: say that it is not.
    data["description"] = f"{WEIGHTS_GIVEN}; evaluated on {data['description']}"
    check_run_dir(out, force=force)
    staging = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)  # left by a killed process of the same id
    try:
        summary = write_given_run(config, parts, staging, options, data)
        prepare_run_dir(out, force=force)
        out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(finished_line(summary, out), file=sys.stderr)
    return summary


def resume_run(out: Path, data: Path, options: RunOptions) -> dict[str, Any] | None:
    """Continue the run in ``out`` from its checkpoint, with its saved configuration."""
    if (out / rf.SUMMARY_NAME).exists():
        print(f"{out}: run already finished", file=sys.stderr)
        return rf.read_json(out / rf.SUMMARY_NAME)
    if not (out / rf.CONFIG_NAME).exists():
        raise UserError(f"{out}: no {rf.CONFIG_NAME}; nothing to resume")
    saved = rf.read_json(out / rf.CONFIG_NAME)
    config = TrainConfig.from_dict(saved)
    args = argparse.Namespace(
        skip_unknown_speakers=config.skip_unknown_speakers,
        drop_duplicates=config.drop_duplicates,
        subset=config.max_takes,
        quiet=not options.progress,
    )
    table = load_table(data, args)
    split = Split.from_dict(config.split)
    parts = split_parts(table, split)
    described = describe_data(table, parts, split)
    if described["fingerprint"] != saved["data"]["fingerprint"]:
        raise UserError(
            f"{data}: the recordings differ from those the run in {out} started with (fingerprint changed)"
        )
    return RunTrainer(config, parts, out, options, saved["data"]).fit(resume=True)


@dataclass
class TrainedRun:
    """A finished (or at least checkpointed) run, loaded for prediction and explanation."""

    model: Any
    architecture: str
    task: str
    classes: list[str]
    width: float
    weights_sha256: str
    config: dict[str, Any]
    data_description: dict[str, Any]
    test_accuracy: float | None
    test_speakers: list[str]
    run_dir: Path
    temperature: float = 1.0  # divides the logits for probabilities (explainer.calibration)

    @property
    def representation(self) -> str:
        """ "waveform" (AudioNet), "spectrogram" (AlexNet) or an own model's declared front end."""
        return representation_of(self.config)

    def prepare(self, path: Path, relpath: str) -> tuple[np.ndarray, np.ndarray, int]:
        """Read one recording and place it as in training (placement 0 of the run's seed).

        Returns the window ``(8000,)`` float32, the network input (``(8000,)``,
        ``(227, 227)`` dB or ``(64, 227)`` log-mel) and the offset (window position j holds clip sample j - offset).
        """
        from explainer import preprocessing as pp

        audio = read_audio(Path(path), target_sr=pp.SAMPLE_RATE)
        rng = pp.clip_offset_rng(self.config["seed"], relpath, 0)
        window, offset = pp.place_in_window(
            audio, rng=rng, long_clips=pp.long_clip_policy(self.config)
        )
        return window, pp.model_input(window, self.representation), offset

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Logits ``(n, n_classes)`` for network inputs ``(n, *shape)``."""
        from explainer.training_loop import predict_logits

        return predict_logits(self.model, inputs)


def load_run(run_dir: Path) -> TrainedRun:
    """Load a run folder's best weights (eval mode, CPU, float32) and its description.

    Raises :class:`UserError` naming the file if the folder is not a usable run.
    """
    import torch

    from explainer.calibration import run_temperature
    from explainer.own_model import build_network

    run_dir = Path(run_dir)
    config_path, weights = run_dir / rf.CONFIG_NAME, run_dir / rf.MODEL_NAME
    for path in (config_path, weights):
        if not path.is_file():
            raise UserError(f"{path}: missing; {run_dir} is not a trained run")
    config = rf.read_json(config_path)
    classes = classes_of(config)
    model = build_network(config)
    try:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except (RuntimeError, OSError, ValueError) as exc:
        raise UserError(f"{weights}: cannot load the weights ({exc})") from exc
    model.float().eval()
    summary_path = run_dir / rf.SUMMARY_NAME
    summary = rf.read_json(summary_path) if summary_path.is_file() else {}
    return TrainedRun(
        model=model,
        architecture=config["architecture"],
        task=config["task"],
        classes=list(classes),
        width=float(config["width"]),
        weights_sha256=rf.sha256_of(weights),
        config=config,
        data_description=config["data"],
        test_accuracy=summary.get("test_accuracy"),
        test_speakers=list(config["split"]["test"]),
        run_dir=run_dir,
        temperature=run_temperature(summary),
    )
