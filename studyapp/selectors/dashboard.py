"""The researcher dashboard's numbers: sessions per arm, completion time, accuracy so far.

Counts are per arm (the condition, in a between-participant design) and per phase:
pilot sessions and live sessions are never mixed. Accuracy is computed here but the
view shows it for live data only behind an explicit click, so nobody peeks at the
outcome by accident while the study runs.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from studyapp.models import Participant, Response, Study, Trial
from studyapp.selectors.assignment import study_arms

Z95 = 1.959963984540054


@dataclass
class GroupStatus:
    """Sessions of one arm. ``started`` counts every session, whatever became of it."""

    arm: str
    conditions: list[str]
    started: int = 0
    completed: int = 0
    active: int = 0
    abandoned: int = 0
    screened_out: int = 0
    declined: int = 0
    minutes: list[float] = field(default_factory=list)

    @property
    def median_minutes(self) -> float | None:
        """Median minutes from start to completion of this group's completed sessions."""
        return statistics.median(self.minutes) if self.minutes else None


@dataclass(frozen=True)
class ConditionAccuracy:
    """Main-trial accuracy of one condition with a Wilson 95% interval."""

    condition: str
    n: int
    correct: int
    low: float
    high: float

    @property
    def accuracy(self) -> float:
        """Share of correct answers (nan without answers)."""
        return self.correct / self.n if self.n else float("nan")


# The dashboard keeps its own Wilson interval rather than share one across the boundary:
# contracts/ holds the two file formats, and a confidence interval is part of neither;
# the analysis computes its intervals with statsmodels, which the web image does not
# install. The two answer different questions (a progress display while a study runs,
# the reported result afterwards) and are each checked against Newcombe (1998).
def wilson_interval(k: int, *, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k``/``n`` (``(nan, nan)`` when n is 0)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _bucket(status: str, last_seen_ok: bool) -> str:
    if status in (Participant.Status.STARTED, Participant.Status.IN_PROGRESS):
        return "active" if last_seen_ok else "abandoned"
    return status


def dashboard_status(*, study: Study, pilot: bool) -> list[GroupStatus]:
    """Session counts and completion times per arm, for pilot or live sessions."""
    groups = {
        arm.label: GroupStatus(arm.label, [c.name for c in arm.cells]) for arm in study_arms(study)
    }
    cutoff = timezone.now() - timedelta(minutes=study.time_limit_minutes)
    rows = Participant.objects.filter(study=study, is_pilot=pilot).values_list(
        "arm", "condition__name", "status", "last_seen_at", "started_at", "completed_at"
    )
    for arm, condition, status, last_seen, started, completed in rows.iterator():
        group = groups.setdefault(arm or condition or "?", GroupStatus(arm or condition or "?", []))
        group.started += 1
        bucket = _bucket(status, last_seen >= cutoff)
        setattr(group, bucket, getattr(group, bucket) + 1)
        if status == Participant.Status.COMPLETED and completed:
            group.minutes.append((completed - started).total_seconds() / 60)
    return list(groups.values())


def dashboard_accuracy(*, study: Study, pilot: bool) -> list[ConditionAccuracy]:
    """Accuracy of main trials per condition so far (catch and practice trials left out)."""
    rows = (
        Response.objects.filter(
            trial__participant__study=study,
            trial__participant__is_pilot=pilot,
            trial__kind=Trial.Kind.MAIN,
        )
        .values("trial__condition__name")
        .annotate(n=Count("id"), k=Count("id", filter=Q(answer_correct=True)))
        .order_by("trial__condition__position", "trial__condition__name")
    )
    return [
        ConditionAccuracy(
            r["trial__condition__name"], r["n"], r["k"], *wilson_interval(r["k"], n=r["n"])
        )
        for r in rows
    ]


def median_minutes(groups: list[GroupStatus]) -> float | None:
    """Median completion time in minutes over all groups (None before anyone completed)."""
    minutes = [m for g in groups for m in g.minutes]
    return statistics.median(minutes) if minutes else None
