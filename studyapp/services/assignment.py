"""Randomisation: which condition a participant gets and which trials, in which order.

Everything here is a pure function of the study, the stored participant seed and the
counts read inside the enrolment transaction, so an assignment can be re-derived.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from studyapp.models import Condition, Participant, Stimulus, Study, Trial


@dataclass(frozen=True)
class PlannedTrial:
    kind: str
    stimulus: Stimulus
    condition: Condition
    expected_answer: str = ""


def active_or_completed(study: Study) -> Q:
    """Sessions that hold a slot: completed, or active within the time limit."""
    cutoff = timezone.now() - timedelta(minutes=study.time_limit_minutes)
    holding = [Participant.Status.STARTED, Participant.Status.IN_PROGRESS]
    return Q(participants__status=Participant.Status.COMPLETED) | Q(
        participants__status__in=holding, participants__last_seen_at__gte=cutoff
    )


def condition_counts(study: Study) -> dict[int, int]:
    rows = study.conditions.annotate(n=Count("participants", filter=active_or_completed(study)))
    return {row.pk: row.n for row in rows}


def condition_choose(*, study: Study, rng: random.Random) -> Condition | None:
    """The least-filled condition (ties broken at random); None if every one is full.

    Call inside a transaction that has locked the study row, so concurrent arrivals
    are decided one at a time.
    """
    counts = condition_counts(study)
    conditions = list(study.conditions.all())
    if study.target_per_condition:
        conditions = [c for c in conditions if counts[c.pk] < study.target_per_condition]
    if not conditions:
        return None
    fewest = min(counts[c.pk] for c in conditions)
    return rng.choice([c for c in conditions if counts[c.pk] == fewest])


def _balanced_sample(pool: list[Stimulus], n: int, share_incorrect: float, rng: random.Random) -> list[Stimulus]:
    """Pick ``n`` stimuli, round-robin over classes within correct and incorrect decisions."""
    wrong = [s for s in pool if not s.model_correct]
    right = [s for s in pool if s.model_correct]
    n_wrong = min(len(wrong), round(n * share_incorrect))
    n_right = min(len(right), n - n_wrong)
    n_wrong = min(len(wrong), n - n_right)
    return _round_robin(wrong, n_wrong, rng) + _round_robin(right, n_right, rng)


def _round_robin(pool: list[Stimulus], n: int, rng: random.Random) -> list[Stimulus]:
    by_class: dict[str, list[Stimulus]] = defaultdict(list)
    for stim in sorted(pool, key=lambda s: s.stimulus_id):
        by_class[stim.true_label].append(stim)
    for items in by_class.values():
        rng.shuffle(items)
    labels = sorted(by_class)
    rng.shuffle(labels)
    picked: list[Stimulus] = []
    seen_recordings: set[str] = set()
    while len(picked) < n and any(by_class.values()):
        for label in labels:
            while by_class[label] and len(picked) < n:
                stim = by_class[label].pop()
                # Each participant hears each source recording at most once.
                if stim.source_recording not in seen_recordings:
                    seen_recordings.add(stim.source_recording)
                    picked.append(stim)
                    break
    return picked


def trial_plan(*, study: Study, condition: Condition, seed: int) -> list[PlannedTrial]:
    """The trials of a between-participant session, in presentation order."""
    rng = random.Random(seed)
    stimuli = list(study.bundle.stimuli.all())
    method_ok = [s for s in stimuli if not condition.method or s.method == condition.method]
    main_pool = [s for s in method_ok if not s.practice]
    main = _balanced_sample(main_pool, study.n_trials, study.share_incorrect, rng)
    rng.shuffle(main)
    practice_pool = [s for s in method_ok if s.practice] or main_pool
    practice = rng.sample(practice_pool, min(study.n_practice, len(practice_pool)))
    plan = [PlannedTrial(Trial.Kind.PRACTICE, s, condition) for s in practice]
    plan += [PlannedTrial(Trial.Kind.MAIN, s, condition) for s in main]
    return _insert_catch_trials(plan, study, condition, rng, len(practice))


def _insert_catch_trials(
    plan: list[PlannedTrial], study: Study, condition: Condition, rng: random.Random, n_practice: int
) -> list[PlannedTrial]:
    main_positions = range(n_practice + 1, len(plan) + 1)
    if not study.n_catch or not main_positions:
        return plan
    classes = list(study.bundle.classes)
    stimuli = [p.stimulus for p in plan[n_practice:]]
    for _ in range(study.n_catch):
        # An instructed-response item: the page tells the participant which answer to give.
        expected = rng.choice(["yes", "no"]) if study.task == Study.Task.VERIFICATION else rng.choice(classes)
        at = rng.randint(n_practice + 1, len(plan))
        plan.insert(at, PlannedTrial(Trial.Kind.CATCH, rng.choice(stimuli), condition, expected))
    return plan
