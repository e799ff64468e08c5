"""The selection design: balanced cells, spread over speakers, seeded, honest about shortfalls."""

from __future__ import annotations

from collections import Counter

import pytest

from explainer.errors import UserError
from explainer.selection import Candidate, Design, cell_targets, select

CLASSES = [str(d) for d in range(10)]


def candidates(n_speakers: int = 4, takes: int = 3, wrong_every: int = 3) -> list[Candidate]:
    out = []
    for s in range(n_speakers):
        for d in range(10):
            for k in range(takes):
                wrong = (s * 31 + d * 7 + k) % wrong_every == 0
                predicted = str((d + 1) % 10) if wrong else str(d)
                out.append(
                    Candidate(
                        f"{s:02d}/{d}_{s:02d}_{k}.wav",
                        f"{s:02d}",
                        k,
                        f"sha-{s}-{d}-{k}",
                        str(d),
                        predicted,
                        tuple([0.1] * 10),
                        0,
                    )
                )
    return out


def test_cell_targets_sum_to_n_and_balance_classes_and_correctness():
    import numpy as np

    targets = cell_targets(
        CLASSES, Design(n_decisions=40, incorrect_fraction=0.5), np.random.default_rng(0)
    )
    assert sum(targets.values()) == 40
    assert set(targets.values()) == {2}
    uneven = cell_targets(
        CLASSES, Design(n_decisions=15, incorrect_fraction=0.2), np.random.default_rng(0)
    )
    assert sum(uneven.values()) == 15
    per_class = Counter()
    for (label, _), count in uneven.items():
        per_class[label] += count
    assert max(per_class.values()) - min(per_class.values()) <= 1


def test_selection_fills_every_cell_from_several_speakers_without_repeating_audio():
    sel = select(candidates(), CLASSES, Design(n_decisions=40), seed=1)
    assert len(sel.main) == 40 and not sel.shortfall
    cells = Counter((c.true_label, c.correct) for c in sel.main)
    assert set(cells.values()) == {2}
    assert len({c.audio_sha256 for c in sel.main}) == 40
    assert len({c.speaker for c in sel.main}) == 4
    for cell in sel.cells:
        assert cell["selected"] == cell["requested"] == 2


def test_the_same_seed_gives_the_same_selection_and_another_seed_another():
    design = Design(n_decisions=20)
    a = [c.relpath for c in select(candidates(), CLASSES, design, seed=3).main]
    b = [c.relpath for c in select(candidates(), CLASSES, design, seed=3).main]
    c = [c.relpath for c in select(candidates(), CLASSES, design, seed=4).main]
    assert a == b and a != c


def test_a_short_cell_is_filled_from_the_same_class_and_recorded():
    pool = [c for c in candidates() if not (c.true_label == "3" and not c.correct)]
    sel = select(pool, CLASSES, Design(n_decisions=40), seed=0)
    assert len(sel.main) == 40
    assert Counter(c.true_label for c in sel.main)["3"] == 4
    assert any("class 3 incorrect" in s for s in sel.shortfall)
    cell = next(c for c in sel.cells if c["true_label"] == "3" and not c["correct"])
    assert (cell["requested"], cell["available"], cell["selected"]) == (2, 0, 0)
    other = next(c for c in sel.cells if c["true_label"] == "3" and c["correct"])
    n_correct_threes = sum(1 for c in pool if c.true_label == "3" and c.correct)
    assert (other["requested"], other["available"], other["selected"]) == (2, n_correct_threes, 4)
    assert sum(c["selected"] for c in sel.cells) == len(sel.main) == 40


def test_a_short_cell_is_an_error_when_the_design_says_so():
    pool = [c for c in candidates() if c.correct]
    with pytest.raises(
        UserError,
        match="too few candidates for the requested design: class 0 incorrect: 1 requested, 0 available",
    ):
        select(pool, CLASSES, Design(n_decisions=20, shortfall="error"), seed=0)


def test_practice_decisions_are_extra_correct_ones_not_among_the_main_ones():
    sel = select(candidates(), CLASSES, Design(n_decisions=20, practice=3), seed=0)
    assert len(sel.practice) == 3
    assert all(c.correct for c in sel.practice)
    assert not {c.relpath for c in sel.practice} & {c.relpath for c in sel.main}
    assert len({c.true_label for c in sel.practice}) == 3


def test_duplicate_audio_is_never_selected_twice():
    pool = candidates(n_speakers=1, takes=2)
    twins = [
        Candidate(
            c.relpath.replace("_0.wav", "_9.wav"),
            c.speaker,
            9,
            c.audio_sha256,
            c.true_label,
            c.predicted_label,
            c.scores,
            0,
        )
        for c in pool
        if c.take == 0
    ]
    sel = select(pool + twins, CLASSES, Design(n_decisions=30, incorrect_fraction=0.0), seed=0)
    assert len({c.audio_sha256 for c in sel.main}) == len(sel.main)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_decisions": 0},
        {"incorrect_fraction": 1.5},
        {"practice": -1},
        {"methods": ()},
        {"methods": ("gradient", "gradient")},
        {"split": "train"},
    ],
)
def test_a_bad_design_is_a_clear_error(kwargs):
    with pytest.raises(UserError):
        Design(**kwargs)


def test_every_candidate_is_selected_once_when_the_design_says_every():
    pool = candidates(n_speakers=2, takes=1)
    first = pool[0]
    # The same audio under another name (and the same decision): explained once.
    pool.append(Candidate("copy.wav", "00", 0, first.audio_sha256, first.true_label,
                          first.predicted_label, first.scores, 0))  # fmt: skip
    sel = select(pool, CLASSES, Design(n_decisions=3, every=True), seed=0)
    chosen = sorted(c.audio_sha256 for c in sel.main)
    assert chosen == sorted(c.audio_sha256 for c in pool[:-1]) and len(chosen) == 20
    assert not sel.shortfall
