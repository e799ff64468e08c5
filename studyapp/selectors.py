"""Read-only queries used by views, commands and the admin."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from django.db import connection

from studyapp.models import (
    Bundle,
    Condition,
    MediaFile,
    Participant,
    Response,
    Stimulus,
    Study,
    Trial,
)
from studyapp.services.designs import design_baseline_task
from studyapp.services.screening import screening_next_trial, screening_state
from studyapp.sql_rows import Columns, RowReader, column, left_join, prepared_cursor, table

# Steps a session can be at, in the order a participant meets them.
STEPS = (
    "consent",
    "demographics",
    "calibration",
    "screening",
    "instructions",
    "trial",
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
    return (
        Participant.objects.select_related("study", "study__bundle", "condition")
        .defer("study__bundle__manifest")
        .filter(token=token)
        .first()
    )


# What storing an answer reads of the session, its study and bundle, and of the open
# trials. The rest stays deferred (loaded only if a rarer path reads it): this runs on
# every answer, and turning a hundred columns into Python objects was a third of its work.
_ANSWER_READER = RowReader(
    Columns.of(
        Participant,
        "p",
        (
            "token",
            "pseudonym",
            "status",
            "study",
            "condition",
            "last_seen_at",
            "consented_at",
            "instructions_seen_at",
            "screening_passed",
            "demographics",
        ),
    ),
    Columns.of(
        Study,
        "s",
        (
            "slug",
            "status",
            "bundle",
            "task",
            "design",
            "explanation_only",
            "ask_rating",
            "ask_confidence",
            "audio_must_finish",
            "max_replays",
            "allow_seeking",
            "allow_back",
            "time_limit_minutes",
            "demographics",
            "headphone_screen",
        ),
    ),
    Columns.of(Bundle, "b", ("classes", "manifest_sha256")),
    Columns.of(
        Trial,
        "t",
        (
            "participant",
            "position",
            "kind",
            "stimulus",
            "condition",
            "expected_answer",
            "partner",
            "presented_at",
        ),
    ),
    Columns.of(Condition, "c", ("modality",)),
    Columns.of(
        Stimulus, "st", ("predicted_label", "model_correct", "original_audio", "audible_heatmap")
    ),
    Columns.of(MediaFile, "oa", ("duration_s",)),
    Columns.of(MediaFile, "ah", ("duration_s",)),
)


_TRIAL = 3  # (the trial's place among the reader's groups)


@dataclass
class AnswerSession:
    """A session about to store an answer: the participant (with study and bundle) and the
    first two unanswered trials by position (fewer near the end), each with its condition,
    stimulus and the stimulus's audio durations."""

    participant: Participant
    open_trials: list[Trial]


@lru_cache(maxsize=4)
def _answer_session_sql(vendor: str) -> str:
    # One statement: the session by its token, and its first two open trials found by
    # the (participant, position) index, stopping at the second.
    pk = "id"
    open_trials = (
        f"SELECT t2.* FROM {table(Trial, 't2')} WHERE {column(Trial, 't2', 'participant')} = "
        f"(SELECT {column(Participant, 'p2', pk)} FROM {table(Participant, 'p2')} "
        f"WHERE {column(Participant, 'p2', 'token')} = %s) "
        f"AND NOT EXISTS (SELECT 1 FROM {table(Response, 'r')} "
        f"WHERE {column(Response, 'r', 'trial')} = {column(Trial, 't2', pk)}) "
        f"ORDER BY {column(Trial, 't2', 'position')} LIMIT 2"
    )
    return (
        f"SELECT {_ANSWER_READER.select_list()} FROM {table(Participant, 'p')} "
        f"JOIN {table(Study, 's')} ON {column(Study, 's', pk)} = {column(Participant, 'p', 'study')} "
        f"JOIN {table(Bundle, 'b')} ON {column(Bundle, 'b', pk)} = {column(Study, 's', 'bundle')} "
        f"LEFT JOIN ({open_trials}) t ON {column(Trial, 't', 'participant')} = {column(Participant, 'p', pk)} "
        f"{left_join(Condition, 'c', Trial, 't', 'condition')} {left_join(Stimulus, 'st', Trial, 't', 'stimulus')} "
        f"{left_join(MediaFile, 'oa', Stimulus, 'st', 'original_audio')} "
        f"{left_join(MediaFile, 'ah', Stimulus, 'st', 'audible_heatmap')} "
        f"WHERE {column(Participant, 'p', 'token')} = %s ORDER BY {column(Trial, 't', 'position')}"
    )


def answer_session(*, token: str) -> AnswerSession | None:
    """The session behind ``token`` with what storing an answer reads, in one statement.

    Of the second open trial only the trial itself is built: an answer needs only its position.
    """
    with prepared_cursor() as cursor:
        cursor.execute(_answer_session_sql(connection.vendor), [token, token])
        rows = cursor.fetchall()
    if not rows:
        return None
    participant, study, bundle, trial, condition, stimulus, original, audible = _ANSWER_READER.read(
        rows[:1]
    )[0]
    study.bundle = bundle
    participant.study = study
    trials = [] if trial is None else [trial]
    if trial is not None:
        stimulus.original_audio, stimulus.audible_heatmap = original, audible
        trial.condition, trial.stimulus = condition, stimulus
        trials += [row[_TRIAL] for row in _ANSWER_READER.read(rows[1:], only={_TRIAL})]
    for each in trials:
        each.participant = participant
    return AnswerSession(participant, trials)


# What a trial page reads: the whole session, study and bundle (not its manifest), and the
# asked trial with all it shows. Whole rows, unlike the answer's read: the page's template
# reads many fields, and each deferred one it touched would cost a query of its own.
# (alias, the stimulus's field), in the reader's order
_PAGE_MEDIA = (
    ("oa", "original_audio"),
    ("vh", "visual_heatmap"),
    ("ah", "audible_heatmap"),
    ("pi", "plain_image"),
)
_PAGE_READER = RowReader(
    Columns.all(Participant, "p"),
    Columns.all(Study, "s"),
    Columns.all(Bundle, "b", but=("manifest",)),
    Columns.all(Condition, "pc"),
    Columns.all(Trial, "t"),
    Columns.all(Condition, "tc"),
    Columns.all(Response, "r"),
    Columns.all(Stimulus, "st"),
    *(Columns.all(MediaFile, alias) for alias, _ in _PAGE_MEDIA),
)


@dataclass
class TrialPage:
    """A session as its trial page at ``position`` needs it, read in one statement.

    ``trial`` (None if the participant has no trial there) comes with its condition,
    stimulus, media files and response (or the knowledge that it has none).
    """

    participant: Participant
    trial: Trial | None
    first_open: int | None  # position of the first unanswered trial (None: all are answered)
    answered: int
    total: int
    previous_kind: str | None  # kind of the trial before ``position`` (None: there is none)

    def previous_revisable(self) -> bool:
        """Whether the participant may go back to the trial before this one (studies with allow_back)."""
        return (
            self.participant.study.allow_back
            and self.previous_kind is not None
            and self.previous_kind != Trial.Kind.PRACTICE
        )


@lru_cache(maxsize=4)
def _trial_page_sql(vendor: str) -> str:
    owned = f"{column(Trial, 'x', 'participant')} = {column(Participant, 'p', 'id')}"
    unanswered = f"NOT EXISTS (SELECT 1 FROM {table(Response, 'y')} WHERE {column(Response, 'y', 'trial')} = {column(Trial, 'x', 'id')})"
    trials = table(Trial, "x")
    return (
        f"SELECT {_PAGE_READER.select_list()}, "
        f"(SELECT MIN({column(Trial, 'x', 'position')}) FROM {trials} WHERE {owned} AND {unanswered}), "
        f"(SELECT COUNT(*) FROM {trials} WHERE {owned} AND NOT {unanswered}), "
        f"(SELECT COUNT(*) FROM {trials} WHERE {owned}), "
        f"(SELECT {column(Trial, 'x', 'kind')} FROM {trials} WHERE {owned} AND {column(Trial, 'x', 'position')} = %s) "
        f"FROM {table(Participant, 'p')} "
        f"JOIN {table(Study, 's')} ON {column(Study, 's', 'id')} = {column(Participant, 'p', 'study')} "
        f"JOIN {table(Bundle, 'b')} ON {column(Bundle, 'b', 'id')} = {column(Study, 's', 'bundle')} "
        f"{left_join(Condition, 'pc', Participant, 'p', 'condition')} "
        f"LEFT JOIN {table(Trial, 't')} ON {column(Trial, 't', 'participant')} = {column(Participant, 'p', 'id')} "
        f"AND {column(Trial, 't', 'position')} = %s "
        f"{left_join(Condition, 'tc', Trial, 't', 'condition')} "
        f"LEFT JOIN {table(Response, 'r')} ON {column(Response, 'r', 'trial')} = {column(Trial, 't', 'id')} "
        f"{left_join(Stimulus, 'st', Trial, 't', 'stimulus')} "
        + " ".join(left_join(MediaFile, alias, Stimulus, "st", name) for alias, name in _PAGE_MEDIA)
        + f" WHERE {column(Participant, 'p', 'token')} = %s"
    )


def trial_page(*, token: str, position: int) -> TrialPage | None:
    """The session behind ``token`` with everything its trial page at ``position`` reads (None: no such session)."""
    low, high = connection.ops.integer_field_range(
        Trial._meta.get_field("position").get_internal_type()
    )
    if not low <= position <= high:
        # A position no trial can have (a URL may carry any number of digits): match none,
        # rather than send the database an integer it cannot hold (SQLite raises on those).
        position = -1
    with prepared_cursor() as cursor:
        cursor.execute(_trial_page_sql(connection.vendor), [position - 1, position, token])
        row = cursor.fetchone()
    if row is None:
        return None
    built = _PAGE_READER.read([row])[0]
    participant, study, bundle, condition, trial, trial_condition, response, stimulus = built[:8]
    study.bundle = bundle
    participant.study, participant.condition = study, condition
    if trial is not None:
        for (_, name), media in zip(_PAGE_MEDIA, built[8:], strict=True):
            setattr(stimulus, name, media)
        trial.participant, trial.condition, trial.stimulus = participant, trial_condition, stimulus
        # Cached either way, so that reading trial.response never asks the database again.
        Trial.response.related.set_cached_value(trial, response)
        if response is not None:
            response.trial = trial
    first_open, answered, total, previous_kind = row[-4:]
    return TrialPage(participant, trial, first_open, answered, total, previous_kind)


@lru_cache(maxsize=512)
def _colormap(bundle_id: int, manifest_sha256: str) -> str:
    # Keyed by content hash as well: a bundle never changes, but a test database may reuse an id.
    found = (
        Bundle.objects.filter(pk=bundle_id)
        .values_list("manifest__rendering__visual__colormap", flat=True)
        .first()
    )
    return found if isinstance(found, str) else ""


def bundle_colormap(bundle: Bundle) -> str:
    """The colour map of the bundle's visual explanations (``""`` if the manifest names none)."""
    if "manifest" not in bundle.get_deferred_fields():
        visual = (bundle.manifest.get("rendering") or {}).get("visual") or {}
        return str(visual.get("colormap") or "")
    return _colormap(bundle.pk, bundle.manifest_sha256)


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
    the caller has read it already (:func:`trial_page` does).
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
    if participant.study.headphone_screen and participant.screening_passed is None:
        if screening_state(participant)["calibration"] is None:
            return "calibration", None
        return "screening", screening_next_trial(participant)
    if participant.instructions_seen_at is None:
        return "instructions", None
    if first_open is UNREAD:
        found = (
            Trial.objects.filter(participant=participant, response__isnull=True)
            .order_by("position")
            .first()
        )
        first_open = None if found is None else found.position
    if first_open is None:
        return "done", None
    return "trial", first_open


def trial_for_page(*, participant: Participant, position: int) -> Trial | None:
    """A trial of this participant with everything its page shows (None if not theirs).

    Two small queries rather than one join of eight tables: PostgreSQL plans every
    query afresh, and planning that join took longer than running both (docs/benchmarks.md).
    """
    trial = (
        Trial.objects.select_related("condition", "response")
        .filter(participant=participant, position=position)
        .first()
    )
    if trial is not None:
        trial.stimulus = Stimulus.objects.select_related(
            "original_audio", "visual_heatmap", "audible_heatmap", "plain_image"
        ).get(pk=trial.stimulus_id)
    return trial


def study_measures(*, study: Study) -> list[str]:
    """Two lines for a person starting ``study``: what it measures, and its heard-label baseline."""
    stimuli = Stimulus.objects.filter(bundle=study.bundle, practice=False)
    decisions = {(s.source_recording, s.model_id): s for s in stimuli}.values()
    wrong = [s for s in decisions if not s.model_correct]
    by_cue = [s for s in wrong if s.decision_basis == "cue"]
    conditions = ", ".join(c.name for c in study.conditions.all())
    task_name = study.get_task_display().split(":")[0].lower()
    measures = (
        f"Measures: {task_name} accuracy with explanations ({conditions}) on "
        f"{len(decisions)} decisions of the model, {len(wrong)} of them wrong"
    )
    if by_cue:
        measures += f" ({len(by_cue)} following a planted cue instead of the spoken digit)"
    task = design_baseline_task(study)
    entry = (study.bundle.manifest.get("heard_label_baseline") or {}).get(task)
    if entry is None or entry.get("value") is None:
        return [measures, f"Heard-label baseline ({task}): not stated by the bundle"]
    return [
        measures,
        f"Heard-label baseline ({task}): {entry['value']:.0%}, the accuracy of answering the "
        "spoken digit without any explanation",
    ]
