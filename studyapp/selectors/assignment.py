"""Randomisation: which conditions a participant gets, and which trials in which order.

Terms used here (and in ``docs/researcher-guide.md``):

condition
    One cell of the design: an explanation modality crossed with a method.
arm
    The conditions one participant sees. Between-participant factors split
    participants into arms; within-participant factors put several conditions into
    one arm. In a fully between-participant design an arm is one condition and its
    label is the condition's name.
rotation
    The Latin-square list inside an arm. With ``c`` conditions in an arm there are
    ``c`` rotations; rotation ``r`` shows the item of rank ``j`` in condition
    ``(j + r) mod c``, so across the ``c`` rotations every item appears in every
    condition exactly once.
unit
    ``(arm, rotation)``: what is balanced across arrivals.

The pure core (``arms_from_cells``, ``unit_choose``, ``plan_rows``) works on plain
dataclasses so property tests can run thousands of cases without a database; the
Django adapters below read the study and map the result back to model rows. Every
decision is a function of the study, the participant's stored seed and the counts
read inside the enrolment transaction, so an assignment can be re-derived.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from studyapp.models import Condition, Participant, Stimulus, Study
from studyapp.selectors.designs import (
    PAIR_ANSWERS,
    PAIR_DESIGNS,
    design_main_trials,
    design_shown_model,
)

Unit = tuple[str, int]


# --------------------------------------------------------------------------- pure core


@dataclass(frozen=True)
class Cell:
    """A condition as the planner sees it (``method`` empty = any method)."""

    key: int
    name: str
    modality: str
    method: str


@dataclass(frozen=True)
class ArmSpec:
    label: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Item:
    """A stimulus as the planner sees it."""

    key: int
    stimulus_id: str
    recording: str
    label: str
    correct: bool
    method: str
    practice: bool
    model_id: str = ""


@dataclass(frozen=True)
class DesignSpec:
    """The design fields of a study that shape a trial plan."""

    n_trials: int
    n_practice: int
    n_catch: int
    share_incorrect: float
    fixed_set: bool
    study_seed: int
    task: str
    classes: tuple[str, ...]
    # Methods of every condition in the study: the pools are built against all of them,
    # so every arm draws from the same recordings and the arms stay comparable.
    methods: tuple[str, ...] = ()
    design: str = "single"
    n_pretest: int = 0
    n_learning: int = 0
    # The model whose explanations are planned (a pairwise trial adds its partner).
    shown_model: str = ""


@dataclass(frozen=True)
class PlanRow:
    kind: str
    item: Item
    cell: Cell
    expected_answer: str = ""
    partner: Item | None = None


@dataclass(frozen=True)
class Recording:
    """All renderings (one per method) of one source recording: the unit a person hears."""

    name: str
    label: str
    correct: bool
    by_method: tuple[tuple[str, Item], ...]

    def item_for(self, cell: Cell) -> Item:
        """The rendering this condition shows (the first method's when it names none)."""
        methods = dict(self.by_method)
        return methods[cell.method] if cell.method else self.by_method[0][1]


def arms_from_cells(
    cells: Sequence[Cell], *, modality_within: bool, method_within: bool
) -> list[ArmSpec]:
    """Group conditions into arms: conditions that differ only in within-factors share an arm."""
    groups: dict[tuple[str, ...], list[Cell]] = defaultdict(list)
    for cell in cells:
        key = (() if modality_within else (cell.modality,)) + (
            () if method_within else (cell.method,)
        )
        groups[key].append(cell)
    arms = []
    for key, members in groups.items():
        label = members[0].name if len(members) == 1 else "-".join(v for v in key if v) or "all"
        arms.append(ArmSpec(label, tuple(members)))
    return sorted(arms, key=lambda arm: arm.label)


def unit_choose(
    counts: Mapping[Unit, int], *, arms: Sequence[ArmSpec], target: int, rng: random.Random
) -> tuple[ArmSpec, int] | None:
    """The least-filled arm, then its least-filled rotation (ties at random); None if all full.

    Parameters
    ----------
    counts : sessions holding a slot, per (arm label, rotation); missing = 0.
    arms : the study's arms.
    target : participants wanted per arm; 0 means no limit.
    rng : seeded generator that breaks ties.
    """
    totals = {
        arm.label: sum(counts.get((arm.label, r), 0) for r in range(len(arm.cells))) for arm in arms
    }
    open_arms = [arm for arm in arms if not target or totals[arm.label] < target]
    if not open_arms:
        return None
    fewest = min(totals[arm.label] for arm in open_arms)
    arm = rng.choice([a for a in open_arms if totals[a.label] == fewest])
    per_rotation = [counts.get((arm.label, r), 0) for r in range(len(arm.cells))]
    least = min(per_rotation)
    rotation = rng.choice([r for r, n in enumerate(per_rotation) if n == least])
    return arm, rotation


def recordings_group(items: Iterable[Item], *, methods: set[str]) -> list[Recording]:
    """Group stimuli by source recording, keeping recordings rendered with every needed method."""
    grouped: dict[str, dict[str, Item]] = defaultdict(dict)
    for item in sorted(items, key=lambda i: i.stimulus_id):
        grouped[item.recording].setdefault(item.method, item)
    needed = {m for m in methods if m}
    recordings = []
    for name, by_method in sorted(grouped.items()):
        if needed <= set(by_method):
            first = next(iter(by_method.values()))
            recordings.append(
                Recording(name, first.label, first.correct, tuple(sorted(by_method.items())))
            )
    return recordings


def balanced_sample(
    pool: Sequence[Recording], *, n: int, share_incorrect: float, rng: random.Random
) -> list[Recording]:
    """``n`` recordings: the wanted share of wrong model decisions, round-robin over classes."""
    wrong = [r for r in pool if not r.correct]
    right = [r for r in pool if r.correct]
    n_wrong = min(len(wrong), round(n * share_incorrect))
    n_right = min(len(right), n - n_wrong)
    n_wrong = min(len(wrong), n - n_right)  # top up with wrong ones when right ones run out
    return _round_robin(wrong, n_wrong, rng) + _round_robin(right, n_right, rng)


def _round_robin(pool: Sequence[Recording], n: int, rng: random.Random) -> list[Recording]:
    by_class: dict[str, list[Recording]] = defaultdict(list)
    for rec in pool:
        by_class[rec.label].append(rec)
    for members in by_class.values():
        rng.shuffle(members)
    labels = sorted(by_class)
    rng.shuffle(labels)
    picked: list[Recording] = []
    n = min(n, len(pool))
    while len(picked) < n:
        for label in labels:
            if by_class[label] and len(picked) < n:
                picked.append(by_class[label].pop())
    return picked


def latin_square(
    recordings: Sequence[Recording], *, cells: Sequence[Cell], rotation: int
) -> list[tuple[Recording, Cell]]:
    """Pair each recording with a condition: rank ``j`` gets condition ``(j + rotation) mod c``.

    Ranking by (model correct, class) first spreads correct and wrong decisions and the
    classes evenly over the conditions inside one participant, too.
    """
    ranked = sorted(recordings, key=lambda r: (r.correct, r.label, r.name))
    return [(rec, cells[(j + rotation) % len(cells)]) for j, rec in enumerate(ranked)]


def plan_rows(
    design: DesignSpec, *, arm: ArmSpec, rotation: int, seed: int, items: Sequence[Item]
) -> list[PlanRow]:
    """The trials of one participant, in presentation order.

    Parameters
    ----------
    design : the study's design fields.
    arm, rotation : the participant's assignment.
    seed : the participant's stored seed (trial order, per-participant samples, catch trials).
    items : every stimulus the study may show (``practice`` marks practice stimuli).

    Each participant hears each source recording at most once: practice, main and
    catch trials all draw from disjoint sets of recordings.
    """
    rng = random.Random(seed)
    methods = set(design.methods) | {cell.method for cell in arm.cells}
    partners = pair_partners(design, items=items)
    items = [i for i in items if i.model_id == design.shown_model]
    if design.design in PAIR_DESIGNS:
        items = [i for i in items if partners.get(i.key)]
    practice_pool = recordings_group([i for i in items if i.practice], methods=methods)
    used = {r.name for r in practice_pool}
    main_pool = [
        r
        for r in recordings_group([i for i in items if not i.practice], methods=methods)
        if r.name not in used
    ]
    main = _main_recordings(design, arm, main_pool, rng)
    chosen = {r.name for r in main}
    leftover = [r for r in main_pool if r.name not in chosen]
    if not practice_pool:
        practice_pool = (
            leftover  # nothing flagged: practise on recordings the main part does not use
        )
    practice = rng.sample(practice_pool, min(design.n_practice, len(practice_pool)))
    chosen |= {r.name for r in practice}
    leftover = [r for r in leftover if r.name not in chosen]
    rows = [
        PlanRow("practice", rec.item_for(cell), cell)
        for rec, cell in zip(practice, _cycle(arm.cells, len(practice), rotation), strict=True)
    ]
    main_rows = [
        PlanRow("main", rec.item_for(cell), cell)
        for rec, cell in latin_square(main, cells=arm.cells, rotation=rotation)
    ]
    rng.shuffle(main_rows)
    rows = rows + _with_catch_trials(_blocks(design, main_rows), design, arm, leftover, rng)
    return _with_partners(rows, partners, rng) if design.design in PAIR_DESIGNS else rows


def _blocks(design: DesignSpec, rows: list[PlanRow]) -> list[PlanRow]:
    """Learning then test: the first trials become the pre-test, the next the learning block."""
    if design.design != Study.Design.LEARNING_TEST:
        return rows
    kinds = ["pretest"] * design.n_pretest + ["learning"] * design.n_learning
    return [replace(row, kind=kinds[j]) if j < len(kinds) else row for j, row in enumerate(rows)]


def pair_partners(design: DesignSpec, *, items: Sequence[Item]) -> dict[int, list[Item]]:
    """For each shown stimulus, the stimuli a pairwise trial may show beside it.

    Cue detection pairs the same recording and method explained by another model;
    preference pairs the same recording and model explained by another method.
    """
    if design.design not in PAIR_DESIGNS:
        return {}
    comparison = design.design == Study.Design.MODEL_COMPARISON

    def pairs_with(item: Item, other: Item) -> bool:
        if comparison:
            return other.method == item.method and other.model_id != item.model_id
        return other.model_id == item.model_id and other.method != item.method

    by_recording: dict[str, list[Item]] = defaultdict(list)
    for item in sorted(items, key=lambda o: o.stimulus_id):
        by_recording[item.recording].append(item)
    return {
        item.key: [o for o in by_recording[item.recording] if pairs_with(item, o)]
        for item in items
        if item.model_id == design.shown_model
    }


def _with_partners(
    rows: list[PlanRow], partners: dict[int, list[Item]], rng: random.Random
) -> list[PlanRow]:
    """Give each trial its partner; exactly half the main trials show the planned stimulus second."""
    main = [j for j, row in enumerate(rows) if row.kind == "main"]
    swapped = set(rng.sample(main, len(main) // 2 + (rng.random() < 0.5) * (len(main) % 2)))
    out = []
    for j, row in enumerate(rows):
        partner = rng.choice(partners[row.item.key])
        first, second = (partner, row.item) if j in swapped else (row.item, partner)
        out.append(replace(row, item=first, partner=second))
    return out


def _main_recordings(
    design: DesignSpec, arm: ArmSpec, pool: list[Recording], rng: random.Random
) -> list[Recording]:
    # A Latin square needs every participant to see the same items, so within-arms
    # (and fixed designs) draw the set from the study seed instead of the participant's.
    fixed = design.fixed_set or len(arm.cells) > 1
    picker = random.Random(design.study_seed) if fixed else rng
    return balanced_sample(
        pool,
        n=design_main_trials(
            design=design.design,
            n_trials=design.n_trials,
            n_pretest=design.n_pretest,
            n_learning=design.n_learning,
        ),
        share_incorrect=design.share_incorrect,
        rng=picker,
    )


def _cycle(cells: Sequence[Cell], n: int, start: int) -> list[Cell]:
    return [cells[(start + k) % len(cells)] for k in range(n)]


def _with_catch_trials(
    main: list[PlanRow],
    design: DesignSpec,
    arm: ArmSpec,
    spare: list[Recording],
    rng: random.Random,
) -> list[PlanRow]:
    """Insert instructed-response trials, each on a recording the participant hears only there."""
    rows = list(main)
    spare = list(spare)
    rng.shuffle(spare)
    for _ in range(min(design.n_catch, len(spare))):
        # The page tells the participant which answer to give; the stimulus is a distractor.
        expected = (
            rng.choice(["yes", "no"])
            if design.task == Study.Task.VERIFICATION
            else rng.choice(PAIR_ANSWERS)
            if design.design in PAIR_DESIGNS
            else rng.choice(design.classes)
        )
        cell = rng.choice(arm.cells)
        rows.insert(
            rng.randint(0, len(rows)), PlanRow("catch", spare.pop().item_for(cell), cell, expected)
        )
    return rows


# --------------------------------------------------------------------------- Django adapters


@dataclass(frozen=True)
class PlannedTrial:
    kind: str
    stimulus: Stimulus
    condition: Condition
    expected_answer: str = ""
    partner: Stimulus | None = None


@dataclass(frozen=True)
class Assignment:
    """What enrolment stores: the arm, the Latin-square rotation and the trials."""

    arm: str
    rotation: int
    condition: Condition | None
    trials: list[PlannedTrial]


def holding_slot(study: Study) -> Q:
    """Sessions that hold a slot: completed, or active within the time limit.

    Declined and screened-out sessions never hold one; a session silent for longer
    than the time limit is abandoned and its slot goes to the next arrival.
    """
    cutoff = timezone.now() - timedelta(minutes=study.time_limit_minutes)
    active = [Participant.Status.STARTED, Participant.Status.IN_PROGRESS]
    return Q(status=Participant.Status.COMPLETED) | Q(status__in=active, last_seen_at__gte=cutoff)


def study_cells(study: Study) -> dict[int, Condition]:
    """The study's conditions by primary key."""
    return {c.pk: c for c in study.conditions.all()}


def study_arms(study: Study, *, cells: Sequence[Cell] | None = None) -> list[ArmSpec]:
    """The study's arms; ``cells`` replaces its stored conditions (to check a design before saving)."""
    if cells is None:
        cells = [Cell(c.pk, c.name, c.modality, c.method) for c in study.conditions.all()]
    return arms_from_cells(
        cells,
        modality_within=study.assignment == Study.Assignment.WITHIN,
        method_within=study.method_assignment == Study.Assignment.WITHIN,
    )


def unit_counts(study: Study) -> dict[Unit, int]:
    """Sessions holding a slot per (arm, rotation), in the study's current phase.

    Pilot sessions do not take slots of the live study (and the other way round).
    """
    pilot = study.status == Study.Status.PILOT
    rows = (
        Participant.objects.filter(study=study, is_pilot=pilot)
        .filter(holding_slot(study))
        .values_list("arm", "rotation", "condition__name")
    )
    counts: dict[Unit, int] = defaultdict(int)
    for arm, rotation, condition_name in rows:
        # Sessions enrolled before arms existed carry only their condition.
        counts[(arm or condition_name or "", rotation)] += 1
    return dict(counts)


def study_design_spec(study: Study) -> DesignSpec:
    """The design fields of ``study`` as the planner reads them."""
    return DesignSpec(
        n_trials=study.n_trials,
        n_practice=study.n_practice,
        n_catch=study.n_catch,
        share_incorrect=study.share_incorrect,
        fixed_set=study.stimulus_sampling == Study.Sampling.FIXED,
        study_seed=study.seed,
        task=study.task,
        classes=tuple(str(c) for c in study.bundle.classes),
        methods=tuple(sorted({c.method for c in study.conditions.all()})),
        design=study.design,
        n_pretest=study.n_pretest,
        n_learning=study.n_learning,
        shown_model=design_shown_model(study),
    )


def study_items(
    study: Study, *, practice: set[int] | None = None, excluded: set[int] | None = None
) -> list[Item]:
    """The stimuli the study may show, with the researcher's practice choice applied.

    ``practice`` and ``excluded`` (stimulus pks) replace the stored choices when given.
    """
    if practice is None:
        practice = set(study.practice_stimuli.values_list("pk", flat=True)) if study.pk else set()
    if excluded is None:
        excluded = set(study.excluded_stimuli.values_list("pk", flat=True)) if study.pk else set()
    chosen_practice = practice
    rows = (
        Stimulus.objects.filter(bundle_id=study.bundle_id)
        .exclude(pk__in=excluded)
        .values_list(
            "pk",
            "stimulus_id",
            "source_recording",
            "true_label",
            "model_correct",
            "method",
            "practice",
            "model_id",
        )
    )
    return [
        Item(
            pk,
            sid,
            rec,
            label,
            correct,
            method,
            (pk in chosen_practice) if chosen_practice else practice,
            model_id,
        )
        for pk, sid, rec, label, correct, method, practice, model_id in rows
    ]


def assignment_choose(*, study: Study, seed: int) -> tuple[ArmSpec, int] | None:
    """The arm and rotation for the next arrival; None if every arm is full.

    Call inside a transaction that has locked the study row
    (``select_for_update``), so concurrent arrivals are decided one at a time.
    """
    return unit_choose(
        unit_counts(study),
        arms=study_arms(study),
        target=study.target_per_condition,
        rng=random.Random(seed),
    )


def assignment_plan(*, study: Study, arm: str, rotation: int, seed: int) -> list[PlannedTrial]:
    """The trials of a participant in ``arm``/``rotation`` with ``seed``, in order (deterministic)."""
    arms = {a.label: a for a in study_arms(study)}
    if arm not in arms:
        raise ValueError(f"study {study.slug!r} has no arm {arm!r} (arms: {sorted(arms)})")
    rows = plan_rows(
        study_design_spec(study),
        arm=arms[arm],
        rotation=rotation,
        seed=seed,
        items=study_items(study),
    )
    return _to_planned(rows, study)


def _to_planned(rows: list[PlanRow], study: Study) -> list[PlannedTrial]:
    conditions = study_cells(study)
    keys = [row.item.key for row in rows] + [row.partner.key for row in rows if row.partner]
    stimuli = Stimulus.objects.in_bulk(keys)
    return [
        PlannedTrial(
            row.kind,
            stimuli[row.item.key],
            conditions[row.cell.key],
            row.expected_answer,
            stimuli[row.partner.key] if row.partner else None,
        )
        for row in rows
    ]


def assignment_make(*, study: Study, seed: int) -> Assignment | None:
    """Choose an arm and rotation for a new participant and plan their trials.

    Call inside the enrolment transaction, with the study row locked. Returns None
    when every arm has reached ``target_per_condition``.
    """
    chosen = assignment_choose(study=study, seed=seed)
    if chosen is None:
        return None
    return _assignment(study, *chosen, seed)


def assignment_in_arm(*, study: Study, arm: str, seed: int) -> Assignment:
    """The assignment of a test session the researcher starts in ``arm`` (first rotation)."""
    arms = {a.label: a for a in study_arms(study)}
    if arm not in arms:
        raise ValueError(f"study {study.slug!r} has no group {arm!r} (groups: {sorted(arms)})")
    return _assignment(study, arms[arm], 0, seed)


def _assignment(study: Study, arm: ArmSpec, rotation: int, seed: int) -> Assignment:
    rows = plan_rows(
        study_design_spec(study), arm=arm, rotation=rotation, seed=seed, items=study_items(study)
    )
    condition = study_cells(study)[arm.cells[0].key] if len(arm.cells) == 1 else None
    return Assignment(arm.label, rotation, condition, _to_planned(rows, study))


def assignment_replay(*, participant: Participant) -> list[PlannedTrial]:
    """Re-derive a participant's trials from their stored arm, rotation and seed."""
    arm = participant.arm or (participant.condition.name if participant.condition else "")
    return assignment_plan(
        study=participant.study, arm=arm, rotation=participant.rotation, seed=participant.seed
    )
