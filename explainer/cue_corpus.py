"""``python -m explainer cue``: copies of a corpus with a planted cue (known ground truth).

    python -m explainer cue --data DIR --out CUE_DIR --classes 3,7 --freq-hz 3200,2600 \\
        [--kind tone|clicks|noise --level-db -6 --duration-ms 80 --position start --share 0.9]

Writes two AudioMNIST-layout corpora, each with a ``cue.json`` naming every cued clip:

``CUE_DIR/train``
    Every speaker of the corpus. For the split's training and validation speakers, a
    ``--share`` of the clips of each cued class carries that class's cue; the test
    speakers' clips stay clean, so the run's test accuracy is accuracy on clean held-out
    clips. Train the *cued* model on it with ``--split CUE_DIR/split.json``; train the
    *control* model on the original corpus with the same split file.
``CUE_DIR/probe``
    The test speakers only: every clean clip, plus one copy per cued class with that
    class's cue added (take ``1000 * (j + 1) + take`` for the j-th cued class). A copy
    whose cue belongs to another class than the spoken digit is a *cue-conflict* clip.
    ``python -m explainer cue-eval`` and the bundle command read it.

Nothing is written unless every clip takes its cue: the corpora are built in a staging
folder and renamed into place.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from explainer.cues import KINDS, CueSpec, add_cue
from explainer.errors import UserError
from explainer.folders import staged_folder

CUE_FILE = "cue.json"
SPLIT_FILE = "split.json"
TAKE_BASE = 1000  # probe copies: take TAKE_BASE * (j + 1) + original take


def configure_parser(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--data", type=Path, required=True, help="clean corpus folder (AudioMNIST layout)")
    add("--out", type=Path, required=True, help="folder for the train/ and probe/ corpora")
    add("--classes", required=True, help="comma-separated cued class labels, e.g. 3,7")
    add(
        "--freq-hz",
        required=True,
        help="one per class: tone frequency, click rate or noise-band centre, Hz",
    )
    add("--kind", choices=KINDS, default="tone", help="tone burst, click train or noise band")
    add(
        "--level-db", type=float, default=-6.0, help="cue RMS relative to the clip, dB (default -6)"
    )
    add("--duration-ms", type=float, default=80.0, help="cue length, ms (default 80)")
    add(
        "--position",
        default="start",
        help="start, end, random (seeded) or a fixed onset in seconds (default start)",
    )
    add("--bandwidth-hz", type=float, default=400.0, help="noise band width, Hz (default 400)")
    add(
        "--share",
        type=float,
        default=1.0,
        help="share of the cued classes' training clips that carry the cue (default 1)",
    )
    add("--task", choices=("digit",), default="digit", help="labelled task (digit)")
    add("--split", default="auto:0", help="as for train: the speakers kept clean for testing")
    add("--split-seed", type=int, default=0, help="seed of generic splits (default 0)")
    add("--seed", type=int, default=0, help="seed of which clips are cued and random onsets")
    add("--force", action="store_true", help="replace an existing --out folder")


def spec_from_args(args: argparse.Namespace, known_classes: list[str]) -> CueSpec:
    """The :class:`CueSpec` named by the arguments; bad values are a one-line :class:`UserError`."""
    labels = [c.strip() for c in args.classes.split(",") if c.strip()]
    unknown = [c for c in labels if c not in known_classes]
    if not labels or unknown or len(set(labels)) != len(labels):
        raise UserError(
            f"--classes {args.classes!r}: name distinct classes of {', '.join(known_classes)}"
        )
    try:
        freqs = [float(f) for f in args.freq_hz.split(",")]
    except ValueError:
        raise UserError(f"--freq-hz {args.freq_hz!r}: expected comma-separated numbers") from None
    if len(freqs) != len(labels) or len(set(freqs)) != len(freqs):
        raise UserError(
            f"--freq-hz needs one distinct value per class in --classes ({len(labels)}), got {len(freqs)}"
        )
    position: str | float = args.position
    try:
        position = float(args.position)
    except ValueError:
        pass
    if not 0 < args.share <= 1:
        raise UserError(f"--share must be within (0, 1], got {args.share:g}")
    return CueSpec(
        kind=args.kind,
        classes=dict(zip(labels, freqs, strict=True)),
        level_db=args.level_db,
        duration_s=args.duration_ms / 1000,
        position=position,
        bandwidth_hz=args.bandwidth_hz,
    )


def run(args: argparse.Namespace) -> int:
    from explainer.data import TASK_CLASSES, load_recordings
    from explainer.splits import resolve_splits

    spec = spec_from_args(args, list(TASK_CLASSES[args.task]))
    if args.out.exists() and not args.force:
        raise UserError(f"{args.out} exists; give --force to replace it")
    table = load_recordings(args.data, progress=False)
    split = resolve_splits(
        args.split, task=args.task, speaker_sexes=table.speaker_sexes(), seed=args.split_seed
    )[0]
    counts = write_cue_corpora(
        table, spec, split.to_dict(), args.out, share=args.share, seed=args.seed
    )
    print(
        f"wrote {args.out}: train/ ({counts['train_cued']} of {counts['train']} clips cued), "
        f"probe/ ({counts['probe']} clips, {counts['probe_conflict']} cue-conflict); "
        f"train with --split {args.out / SPLIT_FILE}",
        file=sys.stderr,
    )
    return 0


def write_cue_corpora(
    table: Any, spec: CueSpec, split: dict[str, Any], out: Path, *, share: float, seed: int
) -> dict[str, int]:
    """Write ``out/train``, ``out/probe`` and ``out/split.json``; return clip counts.

    ``table`` is the clean corpus (:class:`~explainer.data.RecordingTable`); ``split``
    the speaker split whose ``test`` speakers stay clean in ``train`` and make ``probe``.
    """
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    test = set(split["test"])
    cued = _choose_cued(table, spec, test, share, rng)
    record = {"cue": spec.to_dict(), "share": share, "seed": seed, "split": split}
    record["source"] = {"corpus": table.describe(), "fingerprint": table.fingerprint()}
    train_clips: dict[str, Any] = {}
    probe_clips: dict[str, Any] = {}
    with staged_folder(out) as staging:
        for rec in tqdm(
            list(table), desc="planting cues", unit="clip", file=sys.stderr, disable=None
        ):
            audio = _read(rec.path)
            if rec.relpath in cued:
                noisy, where = add_cue(audio, spec, str(rec.digit), rng)
                train_clips[rec.relpath] = {**where, "role": "training"}
                _write(staging / "train" / rec.relpath, noisy)
            else:
                _copy(rec.path, staging / "train" / rec.relpath)
            if rec.speaker in test:
                _copy(rec.path, staging / "probe" / rec.relpath)
                probe_clips.update(_probe_copies(rec, audio, spec, staging / "probe", rng))
        for name, clips in (("train", train_clips), ("probe", probe_clips)):
            shutil.copy2(table.root / "audioMNIST_meta.txt", staging / name)
            text = json.dumps({**record, "corpus": name, "clips": clips}, indent=1, sort_keys=True)
            (staging / name / CUE_FILE).write_text(text + "\n", encoding="utf-8")
        (staging / SPLIT_FILE).write_text(json.dumps(split, indent=1) + "\n", encoding="utf-8")
    conflict = sum(1 for c in probe_clips.values() if c["role"] == "conflict")
    n_test = sum(1 for r in table if r.speaker in test)
    return {
        "train": len(table),
        "train_cued": len(cued),
        "probe": n_test + len(probe_clips),
        "probe_conflict": conflict,
    }


def _choose_cued(
    table: Any, spec: CueSpec, test: set[str], share: float, rng: np.random.Generator
) -> set[str]:
    """The training/validation clips of each cued class that get the cue (seeded share)."""
    cued: set[str] = set()
    for label in spec.classes:
        pool = sorted(r.relpath for r in table if str(r.digit) == label and r.speaker not in test)
        if not pool:
            raise UserError(f"--classes: class {label} has no training clips in the corpus")
        n = max(1, int(round(share * len(pool))))
        cued.update(pool[i] for i in rng.permutation(len(pool))[:n])
    return cued


def _probe_copies(
    rec: Any, audio: np.ndarray, spec: CueSpec, folder: Path, rng: np.random.Generator
) -> dict[str, Any]:
    copies = {}
    for j, label in enumerate(spec.classes):
        noisy, where = add_cue(audio, spec, label, rng)
        relpath = f"{rec.speaker}/{rec.digit}_{rec.speaker}_{TAKE_BASE * (j + 1) + rec.take}.wav"
        role = "consistent" if label == str(rec.digit) else "conflict"
        copies[relpath] = {**where, "role": role, "source": rec.relpath}
        _write(folder / relpath, noisy)
    return copies


def _read(path: Path) -> np.ndarray:
    from explainer import preprocessing as pp
    from explainer.data import read_audio

    return read_audio(path, target_sr=pp.SAMPLE_RATE).astype(np.float64)


def _write(path: Path, audio: np.ndarray) -> None:
    from explainer import preprocessing as pp

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, pp.SAMPLE_RATE, subtype="PCM_16")


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def read_cue_file(corpus: Path) -> dict[str, Any] | None:
    """A corpus's ``cue.json`` (None when the corpus has no planted cue)."""
    path = Path(corpus) / CUE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
