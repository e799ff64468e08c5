"""Property tests of the randomisation core (no database: thousands of cases in seconds).

They show that balance holds for any arrival and dropout pattern, that the Latin
square puts every item in every condition equally often, that nobody hears a
recording twice, and that a stored seed reproduces an assignment.
"""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from studyapp.selectors.assignment import (
    ArmSpec,
    Cell,
    DesignSpec,
    Item,
    arms_from_cells,
    plan_rows,
    unit_choose,
)

MODALITIES = ("visual", "audible", "both", "none")
METHODS = ("lrp", "gxi", "ig")


def _cells(n_modalities: int, n_methods: int) -> list[Cell]:
    several = n_methods > 1
    cells = []
    for mod in MODALITIES[:n_modalities]:
        for meth in METHODS[:n_methods] if several else ("",):
            cells.append(Cell(len(cells) + 1, f"{mod}-{meth}" if several else mod, mod, meth))
    return cells


@st.composite
def designs(draw: st.DrawFn) -> tuple[list[ArmSpec], int]:
    cells = _cells(draw(st.integers(1, 4)), draw(st.integers(1, 3)))
    arms = arms_from_cells(
        cells, modality_within=draw(st.booleans()), method_within=draw(st.booleans())
    )
    return arms, draw(st.sampled_from([0, 0, 2, 3, 5]))


# --------------------------------------------------------------------------- arrivals and dropouts


def _arm_totals(counts: Counter, arms: list[ArmSpec]) -> dict[str, int]:
    return {a.label: sum(counts[(a.label, r)] for r in range(len(a.cells))) for a in arms}


@settings(max_examples=300, deadline=None)
@given(
    design=designs(),
    events=st.lists(
        st.tuples(st.sampled_from(["arrive", "arrive", "drop", "finish"]), st.integers(0, 10_000)),
        max_size=80,
    ),
    seed=st.integers(0, 2**32),
)
def test_balance_holds_for_any_arrival_and_dropout_pattern(
    design: tuple[list[ArmSpec], int], events: list[tuple[str, int]], seed: int
) -> None:
    arms, target = design
    rng = random.Random(seed)
    active: list[tuple[str, int]] = []
    holding: Counter = Counter()
    dropped_any = False
    for kind, pick in events:
        if kind == "arrive":
            before = _arm_totals(holding, arms)
            chosen = unit_choose(holding, arms=arms, target=target, rng=rng)
            if chosen is None:
                assert target and all(n >= target for n in before.values()), (
                    "refused while a slot was open"
                )
                continue
            arm, rotation = chosen
            open_totals = [n for a, n in before.items() if not target or n < target]
            assert before[arm.label] == min(open_totals), "not the least-filled open arm"
            rotations = [holding[(arm.label, r)] for r in range(len(arm.cells))]
            assert rotations[rotation] == min(rotations), "not the least-filled Latin-square list"
            holding[(arm.label, rotation)] += 1
            active.append((arm.label, rotation))
        elif active:
            unit = active.pop(pick % len(active))
            if kind == "drop":  # abandoned, screened out or declined: the slot is released
                holding[unit] -= 1
                dropped_any = True
        totals = _arm_totals(holding, arms)
        assert not target or max(totals.values()) <= target, "a group was overfilled"
        if not dropped_any and not target:
            assert max(totals.values()) - min(totals.values()) <= 1, "imbalance without any dropout"


@settings(max_examples=200, deadline=None)
@given(
    design=designs(),
    start=st.lists(st.integers(0, 6), min_size=12, max_size=12),
    seed=st.integers(0, 2**32),
)
def test_arrivals_after_any_dropouts_restore_balance_within_one(
    design: tuple[list[ArmSpec], int], start: list[int], seed: int
) -> None:
    arms, _ = design
    holding: Counter = Counter()
    for i, arm in enumerate(arms):  # any uneven state that dropouts can leave behind
        for r in range(len(arm.cells)):
            holding[(arm.label, r)] = start[(i * 3 + r) % len(start)]
    totals = _arm_totals(holding, arms)
    deficit = sum(max(totals.values()) - n for n in totals.values())
    rotation_deficit = sum(
        max(holding[(a.label, r)] for r in range(len(a.cells))) * len(a.cells) - totals[a.label]
        for a in arms
    )
    rng = random.Random(seed)
    for _ in range(deficit + rotation_deficit + len(arms)):
        arm, rotation = unit_choose(holding, arms=arms, target=0, rng=rng)  # type: ignore[misc]
        holding[(arm.label, rotation)] += 1
    totals = _arm_totals(holding, arms)
    assert max(totals.values()) - min(totals.values()) <= 1


# --------------------------------------------------------------------------- trial plans


@st.composite
def bundles(draw: st.DrawFn) -> list[Item]:
    """Items of a bundle: recordings rendered with every method, some practice, mixed correctness."""
    n_recordings = draw(st.integers(4, 40))
    n_classes = draw(st.integers(2, 10))
    n_practice = draw(st.integers(0, 3))
    items = []
    for r in range(n_recordings):
        label = draw(st.integers(0, n_classes - 1))
        correct = draw(st.booleans())
        for method in METHODS:
            items.append(
                Item(
                    len(items) + 1,
                    f"s{r:03d}-{method}",
                    f"rec{r:03d}",
                    str(label),
                    correct,
                    method,
                    r < n_practice,
                )
            )
    return items


def _design(
    n_trials: int, n_practice: int, n_catch: int, fixed: bool = False, methods: tuple[str, ...] = ()
) -> DesignSpec:
    return DesignSpec(
        n_trials=n_trials,
        n_practice=n_practice,
        n_catch=n_catch,
        share_incorrect=0.3,
        fixed_set=fixed,
        study_seed=11,
        task="forward",
        classes=tuple(str(c) for c in range(10)),
        methods=methods,
    )


@settings(max_examples=150, deadline=None)
@given(
    items=bundles(),
    n_cells=st.integers(2, 4),
    n_trials=st.integers(2, 16),
    repeats=st.integers(1, 3),
    within_methods=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_the_latin_square_shows_each_stimulus_in_each_condition_equally_often(
    items: list[Item], n_cells: int, n_trials: int, repeats: int, within_methods: bool, seed: int
) -> None:
    cells = _cells(n_cells, 1) if not within_methods else _cells(1, n_cells if n_cells <= 3 else 3)
    arm = ArmSpec("all", tuple(cells))
    design = _design(n_trials, 0, 0, methods=tuple(sorted({c.method for c in cells})))
    rng = random.Random(seed)
    seen: Counter = Counter()
    for _ in range(repeats):  # a full round: every list (rotation) of the square once
        for rotation in range(len(cells)):
            for row in plan_rows(
                design, arm=arm, rotation=rotation, seed=rng.getrandbits(48), items=items
            ):
                seen[(row.item.recording, row.cell.key)] += 1
                assert not row.cell.method or row.item.method == row.cell.method
    recordings = {rec for rec, _ in seen}
    assert all(seen[(rec, cell.key)] == repeats for rec in recordings for cell in cells)


@settings(max_examples=150, deadline=None)
@given(
    items=bundles(),
    n_cells=st.integers(1, 4),
    n_trials=st.integers(1, 16),
    rotation=st.integers(0, 3),
    seed=st.integers(0, 2**32),
)
def test_within_a_participant_conditions_get_equal_shares_of_trials(
    items: list[Item], n_cells: int, n_trials: int, rotation: int, seed: int
) -> None:
    cells = _cells(n_cells, 1)
    rows = plan_rows(
        _design(n_trials, 0, 0),
        arm=ArmSpec("all", tuple(cells)),
        rotation=rotation % n_cells,
        seed=seed,
        items=items,
    )
    per_cell = Counter(row.cell.key for row in rows)
    shares = [per_cell[c.key] for c in cells]
    assert max(shares) - min(shares) <= 1


@settings(max_examples=200, deadline=None)
@given(
    items=bundles(),
    design=designs(),
    n_trials=st.integers(1, 20),
    n_practice=st.integers(0, 4),
    n_catch=st.integers(0, 4),
    fixed=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_each_participant_hears_each_source_recording_at_most_once(
    items: list[Item],
    design: tuple[list[ArmSpec], int],
    n_trials: int,
    n_practice: int,
    n_catch: int,
    fixed: bool,
    seed: int,
) -> None:
    arms, _ = design
    arm = arms[seed % len(arms)]
    spec = _design(
        n_trials,
        n_practice,
        n_catch,
        fixed,
        tuple(sorted({c.method for a in arms for c in a.cells})),
    )
    rows = plan_rows(spec, arm=arm, rotation=seed % len(arm.cells), seed=seed, items=items)
    recordings = [row.item.recording for row in rows]
    assert len(recordings) == len(set(recordings))
    assert Counter(row.kind for row in rows)["main"] == min(n_trials, _usable(items))
    assert all(row.cell in arm.cells for row in rows)


def _usable(items: list[Item]) -> int:
    return len({i.recording for i in items if not i.practice})


@settings(max_examples=100, deadline=None)
@given(items=bundles(), n_trials=st.integers(1, 20), seed=st.integers(0, 2**32))
def test_the_same_seed_reproduces_the_same_assignment(
    items: list[Item], n_trials: int, seed: int
) -> None:
    arms = arms_from_cells(_cells(2, 2), modality_within=False, method_within=True)
    spec = _design(n_trials, 1, 2, methods=("gxi", "lrp"))
    counts = Counter({(arms[0].label, 0): 3, (arms[1].label, 1): 3})
    first = unit_choose(counts, arms=arms, target=0, rng=random.Random(seed))
    again = unit_choose(counts, arms=arms, target=0, rng=random.Random(seed))
    assert first == again and first is not None
    arm, rotation = first
    assert plan_rows(spec, arm=arm, rotation=rotation, seed=seed, items=items) == plan_rows(
        spec, arm=arm, rotation=rotation, seed=seed, items=items
    )


@settings(max_examples=150, deadline=None)
@given(
    items=bundles(), n_trials=st.integers(1, 30), share=st.floats(0, 1), seed=st.integers(0, 2**32)
)
def test_main_trials_balance_classes_and_the_wanted_share_of_wrong_decisions(
    items: list[Item], n_trials: int, share: float, seed: int
) -> None:
    spec = DesignSpec(
        n_trials=n_trials,
        n_practice=0,
        n_catch=0,
        share_incorrect=share,
        fixed_set=False,
        study_seed=0,
        task="forward",
        classes=tuple(str(c) for c in range(10)),
    )
    rows = plan_rows(
        spec,
        arm=ArmSpec("v", (Cell(1, "visual", "visual", ""),)),
        rotation=0,
        seed=seed,
        items=items,
    )
    pool = {i.recording: i for i in items if not i.practice}
    wrong_pool = sum(not i.correct for i in pool.values())
    right_pool = len(pool) - wrong_pool
    wrong = sum(not row.item.correct for row in rows)
    expected = min(
        wrong_pool, round(n_trials * share)
    )  # the wanted share, as far as the bundle allows
    if right_pool < n_trials - expected:  # too few right decisions: top up with wrong ones
        expected = min(wrong_pool, n_trials - right_pool)
    assert wrong == expected
    assert len(rows) == min(n_trials, len(pool))
    for correct in (True, False):
        picked = Counter(row.item.label for row in rows if row.item.correct == correct)
        available = Counter(i.label for i in pool.values() if i.correct == correct)
        for a in available:
            for b in available:
                # Round-robin over classes: a class falls behind another only once it is used up.
                assert picked[a] >= picked[b] - 1 or picked[a] == available[a]
