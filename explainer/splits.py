"""Speaker-disjoint train / validation / test splits.

The paper's splits rotate speaker groups ("folds"): split ``i`` trains on ``n - 2``
consecutive folds starting at fold ``i``, validates on the next and tests on the one
after (indices mod ``n``). :func:`paper_splits` rebuilds ``audiomnist_splits.json`` this
way from its folds; :func:`rotating_splits` applies the same scheme to any corpus, with
folds stratified by sex.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from explainer.errors import UserError

# The folds of audiomnist_splits.json, in the order its splits rotate through them.
PAPER_FOLDS: dict[str, tuple[tuple[int, ...], ...]] = {
    "digit": (
        (28, 56, 7, 19, 35, 1, 6, 16, 23, 34, 46, 53),
        (36, 57, 9, 24, 37, 2, 8, 17, 29, 39, 48, 54),
        (43, 58, 14, 25, 38, 3, 10, 20, 30, 40, 49, 55),
        (12, 47, 59, 15, 27, 41, 4, 11, 21, 31, 44, 50),
        (26, 52, 60, 18, 32, 42, 5, 13, 22, 33, 45, 51),
    ),
    "sex": (
        (36, 47, 56, 2, 44, 50),
        (26, 12, 57, 25, 37, 45),
        (43, 28, 52, 48, 53, 41),
        (58, 59, 60, 7, 23, 38),
    ),
}
# Each sex fold is three women then three men; the file lists a training part's women
# (fold by fold) before its men.
PAPER_SUBGROUPS = {"digit": 1, "sex": 2}
DEFAULT_FOLDS = {"digit": 5, "sex": 4}


@dataclass(frozen=True)
class Split:
    """Speaker ids (two-digit strings) for each part of one speaker-disjoint split."""

    name: str
    train: tuple[str, ...]
    validate: tuple[str, ...]
    test: tuple[str, ...]

    def __post_init__(self) -> None:
        parts = [set(self.train), set(self.validate), set(self.test)]
        shared = (parts[0] & parts[1]) | (parts[0] & parts[2]) | (parts[1] & parts[2])
        if shared:
            raise ValueError(
                f"split {self.name}: speakers {sorted(shared)} are in more than one part"
            )
        if not all(parts):
            raise ValueError(f"split {self.name}: train, validate and test each need a speaker")

    @property
    def speakers(self) -> tuple[str, ...]:
        return self.train + self.validate + self.test

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "train": list(self.train),
            "validate": list(self.validate),
            "test": list(self.test),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "custom") -> Split:
        return cls(
            name=str(data.get("name", name)),
            train=_ids(data["train"]),
            validate=_ids(data["validate"]),
            test=_ids(data["test"]),
        )


def _ids(values: Sequence[Any]) -> tuple[str, ...]:
    # Numbers as AudioMNIST's two-digit ids; names (CSV manifests) as written.
    return tuple(f"{int(v):02d}" if str(v).strip().isdigit() else str(v).strip() for v in values)


def splits_from_folds(
    folds: Sequence[Sequence[Any]], prefix: str, subgroups: int = 1
) -> list[Split]:
    """Rotate through ``folds``: split i trains on n-2 folds from i, then validates, then tests.

    With ``subgroups`` > 1 each fold is that many equal groups, and a training part lists
    group 0 of its folds, then group 1, and so on (the order of the paper's sex splits).
    """
    n = len(folds)
    if n < 3:
        raise ValueError("need at least 3 folds for train, validate and test")
    splits = []
    for i in range(n):
        train_folds = [folds[(i + k) % n] for k in range(n - 2)]
        train = [
            s for g in range(subgroups) for fold in train_folds for s in _group(fold, g, subgroups)
        ]
        splits.append(
            Split(
                f"{prefix}:{i}",
                _ids(train),
                _ids(folds[(i + n - 2) % n]),
                _ids(folds[(i + n - 1) % n]),
            )
        )
    return splits


def _group(fold: Sequence[Any], index: int, count: int) -> Sequence[Any]:
    size = len(fold) // count
    return fold[index * size : (index + 1) * size] if index < count - 1 else fold[index * size :]


def paper_splits(task: str) -> list[Split]:
    """The splits of ``audiomnist_splits.json``: 5 for "digit" (36/12/12), 4 for "sex" (12/6/6)."""
    if task not in PAPER_FOLDS:
        raise ValueError(f"unknown task {task!r}")
    return splits_from_folds(PAPER_FOLDS[task], "paper", PAPER_SUBGROUPS[task])


def stratified_folds(
    speaker_sexes: Mapping[str, str], n_folds: int, seed: int, *, balance_sexes: bool = False
) -> list[list[str]]:
    """Deal speakers into ``n_folds`` folds so each fold gets a near-equal share of each sex.

    With ``balance_sexes`` the larger group is first cut (at random, seeded) to the size of
    the smaller, as the paper did for its sex task.
    """
    rng = np.random.default_rng(seed)
    groups: dict[str, list[str]] = {}
    for speaker, sex in sorted(speaker_sexes.items()):
        groups.setdefault(sex, []).append(speaker)
    if balance_sexes and len(groups) > 1:
        smallest = min(len(g) for g in groups.values())
        groups = {sex: sorted(rng.permutation(g)[:smallest].tolist()) for sex, g in groups.items()}
    folds: list[list[str]] = [[] for _ in range(n_folds)]
    position = 0
    for sex in sorted(groups):
        for speaker in rng.permutation(groups[sex]).tolist():
            # Continue dealing where the previous group stopped so fold sizes stay even.
            folds[position % n_folds].append(speaker)
            position += 1
    return folds


def rotating_splits(
    speaker_sexes: Mapping[str, str], *, task: str, seed: int = 0, n_folds: int | None = None
) -> list[Split]:
    """Speaker-disjoint splits for any corpus, stratified by sex, rotating like the paper's.

    Parameters
    ----------
    speaker_sexes
        Speaker id -> "male"/"female" for every speaker that may be used.
    task
        "digit" uses every speaker (5 folds by default); "sex" first balances the sexes
        (4 folds by default), as the paper's sex splits do.
    seed
        Seeds the assignment of speakers to folds (recorded as part of the split name).
    """
    n = n_folds or DEFAULT_FOLDS.get(task, 5)
    if len(speaker_sexes) < n:
        raise UserError(f"{len(speaker_sexes)} speakers are too few for {n} speaker-disjoint folds")
    folds = stratified_folds(speaker_sexes, n, seed, balance_sexes=(task == "sex"))
    if min(len(f) for f in folds) == 0:
        raise UserError(f"too few speakers of each sex for {n} folds")
    return splits_from_folds(folds, f"generic-seed{seed}")


def leave_one_speaker_out(speakers: Sequence[str]) -> list[Split]:
    """One split per speaker: test on it, validate on the next (sorted, cyclic), train on the rest.

    For small corpora (a handful of speakers), where k folds would be uneven.
    """
    ordered = sorted(speakers)
    if len(ordered) < 3:
        raise UserError(f"{len(ordered)} speakers are too few for leave-one-speaker-out (need 3)")
    n = len(ordered)
    return [
        Split(
            f"loso:{ordered[i]}",
            tuple(s for s in ordered if s not in (ordered[i], ordered[(i + 1) % n])),
            (ordered[(i + 1) % n],),
            (ordered[i],),
        )
        for i in range(n)
    ]


def resolve_splits(
    spec: str, *, task: str, speaker_sexes: Mapping[str, str], seed: int = 0
) -> list[Split]:
    """Turn a ``--split`` value into splits.

    ``paper:K`` / ``paper:all`` (AudioMNIST's splits), ``generic:K`` / ``generic:all``
    (:func:`rotating_splits` with ``seed``), ``auto:K`` / ``auto:all`` (paper if every paper
    speaker is present, else generic; a bare ``auto`` means ``auto:0``), ``kfoldN:K`` /
    ``kfoldN:all`` (generic with N folds), ``loso:K`` / ``loso:all``
    (:func:`leave_one_speaker_out`), or a JSON file with ``train``/``validate``/``test``
    speaker lists.
    """
    if spec.endswith(".json"):
        return [_split_from_file(Path(spec))]
    scheme, _, which = spec.partition(":")
    if scheme == "auto":
        paper_ids = {s for s in paper_splits(task)[0].speakers}
        scheme = "paper" if paper_ids <= set(speaker_sexes) else "generic"
    if scheme == "paper":
        splits = paper_splits(task)
        _require_speakers(splits, speaker_sexes)
    elif scheme == "generic":
        splits = rotating_splits(speaker_sexes, task=task, seed=seed)
    elif scheme.startswith("kfold") and scheme[5:].isdigit() and int(scheme[5:]) >= 3:
        splits = rotating_splits(speaker_sexes, task=task, seed=seed, n_folds=int(scheme[5:]))
    elif scheme == "loso":
        splits = leave_one_speaker_out(list(speaker_sexes))
    else:
        raise UserError(
            f"--split {spec!r}: expected paper:K, generic:K, kfoldN:K (N >= 3), loso:K, "
            "auto:K (K a number or 'all') or a .json file"
        )
    return _select(splits, which or "0", spec)


def _select(splits: list[Split], which: str, spec: str) -> list[Split]:
    if which == "all":
        return splits
    if not which.isdigit() or int(which) >= len(splits):
        raise UserError(f"--split {spec!r}: choose a split 0..{len(splits) - 1} or 'all'")
    return [splits[int(which)]]


def _require_speakers(splits: list[Split], speaker_sexes: Mapping[str, str]) -> None:
    missing = sorted({s for split in splits for s in split.speakers} - set(speaker_sexes))
    if missing:
        raise UserError(
            f"the paper's splits need speakers {', '.join(missing)}, which the corpus lacks; "
            "use --split generic:K for other corpora"
        )


def _split_from_file(path: Path) -> Split:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Split.from_dict(data, name=path.stem)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{path}: not a split file with train/validate/test speaker lists ({exc})"
        ) from exc
