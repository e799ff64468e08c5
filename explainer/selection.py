"""Which decisions a bundle explains: a declared, seeded, balanced design.

A *decision* is one recording and the model's prediction for it. The design asks for a
number of decisions per cell (true class x correct / incorrect prediction), drawn from
held-out speakers, spread over speakers, without repeating identical audio; every chosen
decision is then explained with every method (a crossed design). Practice decisions
come from the remaining candidates. Everything is recorded in the manifest's
``selection``, including cells that had too few candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from explainer.errors import UserError

SPLITS = ("test", "validate", "heldout", "all")
SHORTFALL_POLICIES = ("fill", "error")
SHORTFALL_HINT = (
    "more wrong decisions come from --split heldout or all, a cue probe corpus "
    "(python -m explainer cue), a noisy copy (python -m explainer degrade) or "
    "--checkpoint-accuracy; or give --shortfall fill"
)


@dataclass(frozen=True)
class Design:
    """The declared design of a bundle (recorded verbatim in ``selection.design``).

    Attributes
    ----------
    n_decisions : int
        Decisions to explain (each with every method), spread evenly over the classes.
    incorrect_fraction : float
        Share of each class's decisions that should be wrong predictions.
    practice : int
        Extra practice decisions, not among the main ones (flagged ``practice: true``).
    methods : tuple of str
        Explanation methods; every decision is explained with each (crossed).
    split : str
        Candidate speakers: the run's ``test`` speakers (default), ``validate``,
        ``heldout`` (both) or ``all``.
    target : str
        Explain the ``predicted`` class (default) or the ``true`` class.
    shortfall : str
        A cell with too few candidates: ``fill`` from the other correctness cell of the
        same class (default) or ``error``.
    every : bool
        Explain every candidate (each audio once) instead of ``n_decisions`` balanced
        ones: a bundle of an explicit list of files (a CSV manifest with ``split="all"``).
    """

    n_decisions: int = 20
    incorrect_fraction: float = 0.5
    practice: int = 0
    methods: tuple[str, ...] = ("lrp-epsilon-plus-flat",)
    split: str = "test"
    target: str = "predicted"
    shortfall: str = "fill"
    every: bool = False

    def __post_init__(self) -> None:
        problems = []
        if self.n_decisions < 1:
            problems.append(f"--n must be at least 1, got {self.n_decisions}")
        if not 0.0 <= self.incorrect_fraction <= 1.0:
            problems.append(
                f"--incorrect-fraction must be within 0..1, got {self.incorrect_fraction}"
            )
        if self.practice < 0:
            problems.append(f"--practice must be >= 0, got {self.practice}")
        if not self.methods or len(set(self.methods)) != len(self.methods):
            problems.append(f"--methods must name distinct methods, got {list(self.methods)}")
        if (
            self.split not in SPLITS
            or self.target not in ("predicted", "true")
            or self.shortfall not in SHORTFALL_POLICIES
        ):
            problems.append(
                f"bad split/target/shortfall: {self.split!r}/{self.target!r}/{self.shortfall!r}"
            )
        if problems:
            raise UserError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["methods"] = list(self.methods)
        data["method_assignment"] = "crossed"
        data["balance"] = "per true class, then correct / incorrect"
        return data


@dataclass(frozen=True)
class Candidate:
    """A held-out recording with the model's decision on it."""

    relpath: str
    speaker: str
    take: int
    audio_sha256: str
    true_label: str
    predicted_label: str
    scores: tuple[float, ...]
    offset_samples: int = 0

    @property
    def correct(self) -> bool:
        return self.true_label == self.predicted_label


@dataclass
class Selection:
    """The chosen decisions (main then practice) and the per-cell accounting."""

    main: list[Candidate]
    practice: list[Candidate]
    cells: list[dict[str, Any]] = field(default_factory=list)
    shortfall: list[str] = field(default_factory=list)


def candidate_speakers(
    split: dict[str, Sequence[str]], which: str, available: Sequence[str]
) -> list[str]:
    """Speakers whose recordings may be explained, from the run's split."""
    chosen = {
        "test": set(split["test"]),
        "validate": set(split["validate"]),
        "heldout": set(split["test"]) | set(split["validate"]),
        "all": set(available),
    }[which]
    return sorted(chosen & set(available))


def cell_targets(
    classes: Sequence[str], design: Design, rng: np.random.Generator
) -> dict[tuple[str, bool], int]:
    """Requested decisions per (true class, correct) cell, summing to ``n_decisions``.

    Largest-remainder rounding; ties go to cells in a seeded random order, so no class
    is favoured by its position in the class list.
    """
    shares = {}
    for label in classes:
        shares[(label, False)] = design.n_decisions / len(classes) * design.incorrect_fraction
        shares[(label, True)] = design.n_decisions / len(classes) * (1 - design.incorrect_fraction)
    counts = {cell: int(np.floor(share + 1e-9)) for cell, share in shares.items()}
    tiebreak = dict(zip(shares, rng.permutation(len(shares)), strict=True))
    order = sorted(shares, key=lambda cell: (-(shares[cell] - counts[cell]), tiebreak[cell]))
    for cell in order[: design.n_decisions - sum(counts.values())]:
        counts[cell] += 1
    return counts


def spread_over_speakers(
    candidates: Sequence[Candidate], rng: np.random.Generator
) -> list[Candidate]:
    """Seeded order that takes one recording per speaker in turn (round robin)."""
    by_speaker: dict[str, list[Candidate]] = {}
    for c in sorted(candidates, key=lambda c: c.relpath):
        by_speaker.setdefault(c.speaker, []).append(c)
    speakers = sorted(by_speaker)
    speakers = [speakers[i] for i in rng.permutation(len(speakers))]
    queues = [
        [group[i] for i in rng.permutation(len(group))]
        for group in (by_speaker[s] for s in speakers)
    ]
    ordered = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    return ordered


def select(
    candidates: Sequence[Candidate], classes: Sequence[str], design: Design, seed: int
) -> Selection:
    """Choose the main and practice decisions for ``design`` with ``seed``.

    Raises
    ------
    UserError
        With ``shortfall="error"`` when a cell has too few candidates, or when no
        decisions can be selected at all.
    """
    rng = np.random.default_rng(seed)
    targets = cell_targets(classes, design, rng)
    pools = {
        cell: spread_over_speakers(
            [c for c in candidates if (c.true_label, c.correct) == cell], rng
        )
        for cell in targets
    }
    if design.every:  # a chosen list of files: each one, not a balanced sample
        targets = {
            cell: len({c.audio_sha256 or c.relpath for c in pool}) for cell, pool in pools.items()
        }
    available = {cell: len(pool) for cell, pool in pools.items()}
    used_audio: set[str] = set()
    chosen = {cell: _take(pools[cell], want, used_audio) for cell, want in targets.items()}
    short = {
        cell: want - len(chosen[cell]) for cell, want in targets.items() if len(chosen[cell]) < want
    }
    if short and design.shortfall == "error":
        raise UserError(
            "too few candidates for the requested design: "
            + "; ".join(_shortfall_line(c, targets[c], available[c]) for c in short)
            + f" ({SHORTFALL_HINT})"
        )
    for (label, correct), missing in short.items():  # fill from the same class's other cell
        chosen[(label, not correct)] += _take(pools[(label, not correct)], missing, used_audio)
    selection = Selection(main=[c for cell in targets for c in chosen[cell]], practice=[])
    if not selection.main:
        raise UserError("no decisions could be selected: no candidate recordings")
    selection.cells = [
        {
            "true_label": label,
            "correct": correct,
            "requested": targets[(label, correct)],
            "available": available[(label, correct)],
            "selected": len(chosen[(label, correct)]),
        }
        for label, correct in targets
    ]
    selection.shortfall = [_shortfall_line(cell, targets[cell], available[cell]) for cell in short]
    selection.practice = _practice(pools, design.practice, used_audio)
    return selection


def _take(pool: list[Candidate], want: int, used_audio: set[str]) -> list[Candidate]:
    """Up to ``want`` candidates from the front of ``pool`` whose audio is not yet used."""
    taken = []
    while pool and len(taken) < want:
        candidate = pool.pop(0)
        key = candidate.audio_sha256 or candidate.relpath
        if key not in used_audio:
            used_audio.add(key)
            taken.append(candidate)
    return taken


def _shortfall_line(cell: tuple[str, bool], want: int, available: int) -> str:
    label, correct = cell
    return f"class {label} {'correct' if correct else 'incorrect'}: {want} requested, {available} available"


def _practice(
    pools: dict[tuple[str, bool], list[Candidate]], n: int, used_audio: set[str]
) -> list[Candidate]:
    """Practice decisions: correct ones first, one class at a time, from what is left."""
    order = sorted(pools, key=lambda cell: (not cell[1], cell[0]))
    practice: list[Candidate] = []
    while len(practice) < n and any(pools[cell] for cell in order):
        for cell in order:
            if len(practice) < n:
                practice += _take(pools[cell], 1, used_audio)
    return practice
