"""A participant's session: finding it, its trials, and the step it is at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from django.db import connection
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet

from studyapp.models import Participant, Response, Study, Trial
from studyapp.selectors.questions import questions_pending
from studyapp.selectors.screening import screening_next_trial, screening_state

# Steps a session can be at, in the order a participant meets them.
STEPS = (
    "consent",
    "demographics",
    "questions_before",
    "calibration",
    "screening",
    "instructions",
    "trial",
    "questions_after",
    "done",
    "declined",
    "screened_out",
    "expired",
)


def participant_by_token(*, token: str) -> Participant | None:
    """The session behind ``token`` with its study, bundle and condition (not the bundle's manifest).

    The manifest lists every stimulus of the bundle and can run to megabytes; no
    participant page needs it whole (``bundle_colormap`` reads the one value they do).
    """
    # (get(), not first(): ordering by id would make Django hash every selected column
    # while compiling, a third of this query's CPU; the token is unique.)
    try:
        return (
            Participant.objects.select_related("study", "study__bundle", "condition")
            .defer("study__bundle__manifest")
            .get(token=token)
        )
    except Participant.DoesNotExist:
        return None


def recruitment_key(recruitment: dict[str, str]) -> str | None:
    """The id that makes a second arrival resume the first session."""
    if recruitment.get("prolific_pid"):
        return f"prolific:{recruitment['prolific_pid']}"
    if recruitment.get("participant_label"):
        return f"label:{recruitment['participant_label']}"
    return None


def participant_resumable(*, study: Study, recruitment: dict[str, str]) -> Participant | None:
    """The session this recruitment id already has in ``study``, if any."""
    key = recruitment_key(recruitment)
    return Participant.objects.filter(study=study, recruitment_key=key).first() if key else None


# What a trial page shows of its stimulus: every media file, joined in the same query.
_PAGE_MEDIA = (
    "stimulus__original_audio",
    "stimulus__visual_heatmap",
    "stimulus__audible_heatmap",
    "stimulus__plain_image",
    # A pair design's second stimulus: scoring reads it, its partial shows its explanations.
    "partner__audible_heatmap",
    "partner__visual_heatmap",
)


def _page_rows() -> QuerySet[Trial]:
    """Trials with everything their page shows, unordered: with the model's default
    ordering, compiling the query would hash every selected column (eight tables')."""
    return Trial.objects.select_related("condition", "response", *_PAGE_MEDIA).order_by()


def trial_answered() -> Exists:
    """Whether a trial has its response, as a correlated EXISTS over the unique
    ``response.trial_id`` index.

    The reads of one session's trials ask this instead of ``response__isnull``: that LEFT
    JOIN let PostgreSQL hash-join a sequential scan of every response on the site, a cost
    that grows with all the answers stored (benchmarks/load.py, 2026-12-04: 9-15 ms per
    read at 5,600 answers, with statistics lagging a table that grows by the second). The
    EXISTS probes the index once per trial of the session (0.3 ms in the same database).
    """
    return Exists(Response.objects.filter(trial=OuterRef("pk")))


def open_trials(*, participant: Participant, limit: int = 3) -> list[Trial]:
    """The participant's first ``limit`` unanswered trials by position (fewer near the end),
    each with everything its page shows (storing an answer reads the first; the reply that
    carries the next trial shows the second and preloads the third's media).

    One query, ordered and sliced on the wide rows themselves. (Choosing the rows by a narrow
    subquery, ``pk__in``, compiles faster, but PostgreSQL planned it as a hash semi-join
    over every trial on the site: 144 ms per answer at 57,000 trials in benchmarks/load.py.
    Ordered by position with a LIMIT, it walks the session's (participant, position) index.)
    """
    trials = list(
        _page_rows().filter(~trial_answered(), participant=participant).order_by("position")[:limit]
    )
    for trial in trials:
        trial.participant = participant  # (the rules read the study through it)
    return trials


@dataclass(frozen=True)
class TrialProgress:
    """How far a session is through its trials."""

    first_open: int | None  # position of the first unanswered trial (None: all are answered)
    answered: int
    total: int


def trial_progress(*, participant: Participant) -> TrialProgress:
    """Counts of the session's trials, in one aggregate query."""
    counts = (
        Trial.objects.filter(participant=participant)
        .annotate(has_response=trial_answered())
        .aggregate(
            total=Count("id"),
            answered=Count("id", filter=Q(has_response=True)),
            first_open=Min("position", filter=Q(has_response=False)),
        )
    )
    return TrialProgress(counts["first_open"], counts["answered"], counts["total"])


def trials_for_page(*, participant: Participant, positions: Sequence[int]) -> dict[int, Trial]:
    """The participant's trials at ``positions`` (those that exist), each with its condition,
    response (or the knowledge that it has none), stimulus and media files, in one query."""
    found = _page_rows().filter(
        participant=participant, position__in=[p for p in positions if _storable(p)]
    )
    trials = {trial.position: trial for trial in found}
    for trial in trials.values():
        trial.participant = participant
    return trials


def _storable(position: int) -> bool:
    # A URL may carry any number of digits: a position no trial can have matches none,
    # rather than send the database an integer it cannot hold (SQLite raises on those).
    field = Trial._meta.get_field("position")
    low, high = connection.ops.integer_field_range(field.get_internal_type())
    return max(low, 1) <= position <= high


def demographics_pending(participant: Participant) -> bool:
    return bool(participant.study.demographics) and not participant.demographics


class _Unread(Enum):
    UNREAD = "unread"


UNREAD = _Unread.UNREAD  # (a value a caller has not read yet: the function reads it)


def participant_step(
    *, participant: Participant, first_open: int | None | _Unread = UNREAD
) -> tuple[str, int | None]:
    """Where the participant is: (step name, trial position or screening trial number).

    ``first_open``: the position of the first unanswered trial (None: none is left), if
    the caller has read it already (:func:`trial_progress` gives it).
    """
    terminal = {
        Participant.Status.DECLINED: "declined",
        Participant.Status.SCREENED_OUT: "screened_out",
        Participant.Status.COMPLETED: "done",
        Participant.Status.ABANDONED: "expired",
    }
    if participant.status in terminal:
        return terminal[participant.status], None
    if participant.consented_at is None:
        return "consent", None
    if demographics_pending(participant):
        return "demographics", None
    # (Past the instructions, the questions before the trials are behind: no query needed.)
    if participant.instructions_seen_at is None and questions_pending(
        participant=participant, placement="before"
    ):
        return "questions_before", None
    if participant.study.headphone_screen and participant.screening_passed is None:
        if screening_state(participant)["calibration"] is None:
            return "calibration", None
        return "screening", screening_next_trial(participant)
    if participant.instructions_seen_at is None:
        return "instructions", None
    if first_open is UNREAD:
        found = (
            Trial.objects.filter(~trial_answered(), participant=participant)
            .order_by("position")
            .first()
        )
        first_open = None if found is None else found.position
    if first_open is None:
        if questions_pending(participant=participant, placement="after"):
            return "questions_after", None
        return "done", None
    return "trial", first_open


def trial_for_page(*, participant: Participant, position: int) -> Trial | None:
    """A trial of this participant with everything its page shows (None if not theirs)."""
    return trials_for_page(participant=participant, positions=[position]).get(position)
