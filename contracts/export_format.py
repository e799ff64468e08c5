"""Export v1: the contract between ``studyapp`` and ``analysis``.

An export is a folder with ``trials.csv`` (one row per answered trial),
``participants.csv`` (one row per participant), ``events.csv`` (the audio
play log) and ``dataset_description.json`` (a Psych-DS style codebook that
describes every column). This module is standard library only: ``analysis``
imports it to check an export without importing Django.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

EXPORT_FORMAT = "hearxai-export"
EXPORT_VERSION = 1
TRIALS_FILE = "trials.csv"
PARTICIPANTS_FILE = "participants.csv"
EVENTS_FILE = "events.csv"
CODEBOOK_FILE = "dataset_description.json"

MODALITIES = ("visual", "audible", "both", "none")
TASKS = ("forward", "verification", "model_comparison", "preference")
DESIGNS = ("single", "learning_test", "model_comparison", "preference")
TRIAL_KINDS = ("practice", "pretest", "learning", "main", "catch")
PARTICIPANT_STATUSES = (
    "started",
    "declined",
    "screened_out",
    "in_progress",
    "completed",
    "abandoned",
)


@dataclass(frozen=True)
class Column:
    """One column of an export file, as the codebook describes it."""

    name: str
    dtype: str  # string | integer | number | boolean | datetime
    description: str
    unit: str = ""
    levels: tuple[str, ...] = field(default_factory=tuple)
    nullable: bool = False
    # Added to v1 after its first exports: a reader accepts an export without the column.
    optional: bool = False
    # Further codebook keys of the column (a custom question's wording, options, range).
    details: tuple[tuple[str, object], ...] = field(default_factory=tuple)


def _c(name: str, dtype: str, description: str, **kw: object) -> Column:
    return Column(name, dtype, description, **kw)  # type: ignore[arg-type]


# Per-stimulus faithfulness, as the bundle states it in ``stimuli[i].faithfulness``
# (docs/faithfulness.md): (bundle key, dtype, what it is).
FAITHFULNESS_FIELDS: tuple[tuple[str, str, str], ...] = (
    (
        "deletion_aopc",
        "number",
        "Deletion AOPC: mean drop of the explained class's probability as input regions are "
        "removed most relevant first (MoRF)",
    ),
    (
        "random_aopc",
        "number",
        "Random-order AOPC: the same with regions removed in a seeded random order (baseline)",
    ),
    (
        "decision_kept",
        "boolean",
        "Decision kept: the model's decision on the audible heatmap played back to it equals "
        "its decision on the clip (L-MAC fidelity to input)",
    ),
    (
        "avg_drop",
        "number",
        "Average drop: max(0, p - p_heard) / p, p the explained class's probability on the clip, "
        "p_heard on the audible heatmap",
    ),
    ("avg_increase", "integer", "Average increase: 1 if p_heard > p, else 0"),
    ("avg_gain", "number", "Average gain: max(0, p_heard - p) / (1 - p)"),
    (
        "heard_probability",
        "number",
        "p_heard: the explained class's probability on the audible heatmap played back to the model",
    ),
)
FAITH_PREFIX = "faith_"
PARTNER_FAITH_PREFIX = "partner_faith_"


def _faithfulness_columns(prefix: str, whose: str) -> tuple[Column, ...]:
    return tuple(
        Column(
            f"{prefix}{key}",
            dtype,
            f"{what}; of {whose}'s explanation. Empty if the bundle has none.",
            nullable=True,
            optional=True,
        )
        for key, dtype, what in FAITHFULNESS_FIELDS
    )


def faithfulness_cells(record: Mapping[str, object] | None, *, prefix: str) -> dict[str, object]:
    """The export cells of a stimulus's bundle ``faithfulness`` record (None: all missing)."""
    record = record or {}
    return {f"{prefix}{key}": record.get(key) for key, _, _ in FAITHFULNESS_FIELDS}


TRIAL_COLUMNS: tuple[Column, ...] = (
    _c("study", "string", "Study slug."),
    _c("participant", "string", "Participant pseudonym (random, not the recruitment id)."),
    _c("is_pilot", "boolean", "True if collected while the study was in pilot mode."),
    _c("condition", "string", "Condition name (modality, plus method where it varies)."),
    _c("modality", "string", "Explanation modality shown on this trial.", levels=MODALITIES),
    _c(
        "method",
        "string",
        "Explanation method that produced the heatmaps (e.g. lrp-epsilon-plus-flat).",
    ),
    _c(
        "trial_kind",
        "string",
        "practice, pretest (learning then test: before learning, no explanation), learning "
        "(explanation and feedback), main (the test block in learning then test) or catch "
        "(attention check) trial.",
        levels=TRIAL_KINDS,
    ),
    _c("trial_position", "integer", "1-based position of the trial in the participant's sequence."),
    _c("stimulus", "string", "Stimulus id from the bundle manifest."),
    _c("source_recording", "string", "Corpus recording the stimulus was made from."),
    _c("speaker", "string", "Speaker of the source recording."),
    _c("true_label", "string", "Ground-truth class of the recording."),
    _c("predicted_label", "string", "Class the model predicted."),
    _c("model_correct", "boolean", "True if the model's prediction equals the true label."),
    _c(
        "task",
        "string",
        "Primary question of the trial: forward simulation, verification, model comparison "
        "(which of two explanations comes from the model relying on a cue) or preference "
        "(which of two explanations is more helpful).",
        levels=TASKS,
    ),
    _c("design", "string", "Study design (docs/study-designs.md).", levels=DESIGNS),
    _c(
        "explanation_only",
        "boolean",
        "True if the original recording was hidden: only the explanation was shown.",
    ),
    _c("model_id", "string", "Model of the (first) stimulus; empty = the bundle's model."),
    *_faithfulness_columns(FAITH_PREFIX, "the stimulus"),
    _c(
        "partner_stimulus",
        "string",
        "Pairwise designs: stimulus shown second (stimulus is shown first).",
        nullable=True,
    ),
    _c("partner_method", "string", "Method of the partner stimulus.", nullable=True),
    _c("partner_model_id", "string", "Model of the partner stimulus.", nullable=True),
    *_faithfulness_columns(PARTNER_FAITH_PREFIX, "the partner stimulus"),
    _c(
        "answer",
        "string",
        "Participant's answer: a class label (forward), yes/no (verification), or first/second "
        "(pairwise designs: the stimulus or the partner_stimulus).",
    ),
    _c(
        "answer_correct",
        "boolean",
        "Forward: answer equals predicted_label. Verification: answer matches model_correct. "
        "Model comparison: the chosen explanation is the cued model's. Preference: no right "
        "answer, always false. Catch: answer equals the known answer.",
    ),
    _c(
        "rating",
        "integer",
        "Helpfulness of the explanation, Likert 1 (not at all) to 7 (very).",
        nullable=True,
    ),
    _c(
        "confidence",
        "integer",
        "Confidence in the answer, 0 to 100.",
        unit="percent",
        nullable=True,
    ),
    _c(
        "rt_ms",
        "number",
        "Response time measured in the browser from when answering became possible (performance.now()).",
        unit="ms",
        nullable=True,
    ),
    _c(
        "server_rt_ms",
        "number",
        "Time between the server sending the trial page and receiving the answer.",
        unit="ms",
        nullable=True,
    ),
    _c("plays_original", "integer", "Number of times playback of the original clip started."),
    _c("plays_explanation", "integer", "Number of times playback of the audible heatmap started."),
    _c(
        "focus_losses",
        "integer",
        "Times the browser window lost focus while the trial was shown.",
        nullable=True,
    ),
    _c(
        "hidden_count",
        "integer",
        "Times the page was hidden (another tab, minimised window, locked phone) during the trial.",
        nullable=True,
    ),
    _c(
        "hidden_ms",
        "number",
        "Time the page spent hidden during the trial.",
        unit="ms",
        nullable=True,
    ),
    _c(
        "log_span_ms",
        "number",
        "Time from the first to the last audio event of the trial, on the browser's clock.",
        unit="ms",
        nullable=True,
    ),
    _c("flag_fast", "boolean", "rt_ms under 200 ms: faster than a considered answer."),
    _c(
        "flag_log_implausible",
        "boolean",
        "The audio log spans more than 1 s longer than passed on the server's clock between "
        "serving the trial and receiving the answer (an altered log or a clock problem).",
    ),
    _c(
        "presented_at",
        "datetime",
        "Server time the trial page was first served (ISO 8601, UTC).",
        nullable=True,
    ),
    _c("answered_at", "datetime", "Server time the answer was stored (ISO 8601, UTC)."),
)

PARTICIPANT_COLUMNS: tuple[Column, ...] = (
    _c("study", "string", "Study slug."),
    _c("participant", "string", "Participant pseudonym."),
    _c("is_pilot", "boolean", "True if the session started while the study was in pilot mode."),
    _c(
        "condition",
        "string",
        "Between-participant condition (empty for within-participant designs).",
        nullable=True,
    ),
    _c("status", "string", "Final state of the session.", levels=PARTICIPANT_STATUSES),
    _c("seed", "integer", "Seed of this participant's trial order and assignment."),
    _c("consent_version", "string", "Version of the consent text agreed to.", nullable=True),
    _c("started_at", "datetime", "Server time the session started (ISO 8601, UTC)."),
    _c("completed_at", "datetime", "Server time the session completed.", nullable=True),
    _c("duration_s", "number", "Seconds from start to completion.", unit="s", nullable=True),
    _c("age_range", "string", "Self-reported age range.", nullable=True),
    _c(
        "hearing_problems",
        "string",
        "Self-reported hearing problems (yes, no, prefer not to say).",
        nullable=True,
    ),
    _c("native_language", "string", "Self-reported native language.", nullable=True),
    _c(
        "audio_device",
        "string",
        "Self-reported playback device (headphones, speakers).",
        nullable=True,
    ),
    _c(
        "screening_passed",
        "boolean",
        "Passed the headphone screen (empty if the study has none).",
        nullable=True,
    ),
    _c("screening_score", "integer", "Headphone-screen trials answered correctly.", nullable=True),
    _c("n_trials_answered", "integer", "Main and catch trials answered."),
    _c("catch_total", "integer", "Catch trials answered."),
    _c("catch_correct", "integer", "Catch trials answered correctly."),
)

# Only written when the researcher asks for recruitment ids explicitly.
RECRUITMENT_COLUMNS: tuple[Column, ...] = (
    _c("prolific_pid", "string", "Prolific participant id.", nullable=True),
    _c("prolific_study_id", "string", "Prolific study id.", nullable=True),
    _c("prolific_session_id", "string", "Prolific session id.", nullable=True),
    _c(
        "participant_label",
        "string",
        "Generic recruitment label from the entry link.",
        nullable=True,
    ),
)

EVENT_COLUMNS: tuple[Column, ...] = (
    _c("study", "string", "Study slug."),
    _c("participant", "string", "Participant pseudonym."),
    _c(
        "trial_position",
        "integer",
        "Trial the event belongs to (for media 'screening': the sound check's number).",
    ),
    _c("stimulus", "string", "Stimulus id (for media 'screening': empty).", nullable=True),
    _c(
        "media",
        "string",
        "Which player fired the event (partner: the second explanation of a pairwise trial; "
        "screening: the headphone screen's sound check).",
        levels=("original", "explanation", "partner", "screening"),
    ),
    _c(
        "event",
        "string",
        "Media event.",
        levels=("play", "pause", "ended", "replay", "seek_blocked"),
    ),
    _c("client_ms", "number", "performance.now() in the browser when the event fired.", unit="ms"),
    _c(
        "media_time_s", "number", "Playback position when the event fired.", unit="s", nullable=True
    ),
)

FILE_COLUMNS: dict[str, tuple[Column, ...]] = {
    TRIALS_FILE: TRIAL_COLUMNS,
    PARTICIPANTS_FILE: PARTICIPANT_COLUMNS,
    EVENTS_FILE: EVENT_COLUMNS,
}


def file_columns(
    file_name: str,
    *,
    with_recruitment_ids: bool = False,
    questions: Sequence[Column] = (),
) -> tuple[Column, ...]:
    """The columns of an export file, in order.

    participants.csv has the contract's columns, then one column per custom question
    of the study (``questions``, from :func:`question_column`), then the recruitment ids
    when asked for.
    """
    if file_name != PARTICIPANTS_FILE:
        return FILE_COLUMNS[file_name]
    ids = RECRUITMENT_COLUMNS if with_recruitment_ids else ()
    return (*PARTICIPANT_COLUMNS, *questions, *ids)


def column_names(
    file_name: str, *, with_recruitment_ids: bool = False, questions: Sequence[Column] = ()
) -> list[str]:
    """Header of an export file, in order."""
    columns = file_columns(
        file_name, with_recruitment_ids=with_recruitment_ids, questions=questions
    )
    return [col.name for col in columns]


def codebook(
    *,
    study: str,
    title: str,
    with_recruitment_ids: bool = False,
    questions: Sequence[Column] = (),
) -> dict[str, object]:
    """The ``dataset_description.json`` of an export (Psych-DS style)."""
    variables = []
    for file_name in FILE_COLUMNS:
        columns = file_columns(
            file_name, with_recruitment_ids=with_recruitment_ids, questions=questions
        )
        for col in columns:
            entry: dict[str, object] = {
                "@type": "PropertyValue",
                "name": col.name,
                "description": col.description,
                "file": file_name,
                "dtype": col.dtype,
                "nullable": col.nullable,
            }
            if col.optional:
                entry["optional"] = True
            if col.unit:
                entry["unitText"] = col.unit
            if col.levels:
                entry["levels"] = list(col.levels)
            entry.update(col.details)
            variables.append(entry)
    return {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "schemaVersion": "Psych-DS 0.1.0",
        "name": f"{title} ({study})",
        "description": "Responses to a human evaluation of audio explanations.",
        "export_format": EXPORT_FORMAT,
        "export_version": EXPORT_VERSION,
        "study": study,
        "files": list(FILE_COLUMNS),
        "variableMeasured": variables,
    }


# --- custom questions: one participants.csv column each, described in the codebook --------------

QUESTION_KINDS = ("single_choice", "multiple_choice", "likert", "short_text", "number")
QUESTION_PLACEMENTS = ("before", "after")  # asked before the first trial or after the last
# A multiple-choice answer is one cell: the chosen options in the question's order, joined.
MULTIPLE_CHOICE_SEPARATOR = ";"
_QUESTION_COLUMN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_QUESTION_DTYPES = {
    "single_choice": "string",
    "multiple_choice": "string",
    "likert": "integer",
    "short_text": "string",
    "number": "number",
}


def question_column_problem(name: str) -> str:
    """Why ``name`` cannot be a custom question's column (empty if it can)."""
    if not _QUESTION_COLUMN.match(name):
        return (
            f"{name!r}: a column name is a lower-case letter, then up to 39 lower-case "
            "letters, digits or underscores (e.g. music_training)"
        )
    taken = {c.name for c in (*PARTICIPANT_COLUMNS, *RECRUITMENT_COLUMNS)}
    if name in taken:
        return f"{name!r} is a column participants.csv already has; choose another name"
    return ""


def question_column(
    *,
    column: str,
    kind: str,
    text: str,
    placement: str,
    options: Sequence[str] = (),
    minimum: float | None = None,
    maximum: float | None = None,
) -> Column:
    """The participants.csv column of a custom question, with its codebook entry.

    Single choice: the option's text; multiple choice: the chosen options joined by
    ``MULTIPLE_CHOICE_SEPARATOR``; Likert: the point chosen, 1 to ``len(options)``
    (``options`` label the points, lowest first); short text: as typed; number: the
    number. Empty when not answered (optional, or the session ended before the page).
    """
    if kind not in QUESTION_KINDS or placement not in QUESTION_PLACEMENTS:
        raise ValueError(f"question {column!r}: unknown kind {kind!r} or placement {placement!r}")
    details: dict[str, object] = {"question": text, "question_kind": kind, "asked": placement}
    levels: tuple[str, ...] = ()
    if kind == "single_choice":
        levels = tuple(options)
    elif kind == "multiple_choice":
        details.update(options=list(options), separator=MULTIPLE_CHOICE_SEPARATOR)
    elif kind == "likert":
        levels = tuple(str(i) for i in range(1, len(options) + 1))
        details["valueLabels"] = {str(i): label for i, label in enumerate(options, start=1)}
    elif kind == "number":
        details.update(
            {k: v for k, v in (("minValue", minimum), ("maxValue", maximum)) if v is not None}
        )
    description = f"Custom question asked {placement} the trials: {text}"
    return Column(
        column,
        _QUESTION_DTYPES[kind],
        description,
        levels=levels,
        nullable=True,
        details=tuple(details.items()),
    )


def described_columns(description: dict[str, object], file_name: str) -> tuple[Column, ...]:
    """The columns of ``file_name`` that a codebook describes beyond the contract's own
    (a study's custom questions), as a reader parses them: by the dtype, levels and
    nullability the codebook gives. Entries with an unknown dtype are left out."""
    own = {c.name for c in (*FILE_COLUMNS[file_name], *RECRUITMENT_COLUMNS)}
    entries = description.get("variableMeasured")
    columns = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("file") != file_name:
            continue
        name, dtype = entry.get("name"), entry.get("dtype")
        if isinstance(name, str) and name not in own and dtype in _DTYPES:
            levels = entry.get("levels")
            columns.append(
                Column(
                    name,
                    str(dtype),
                    str(entry.get("description", "")),
                    levels=tuple(str(v) for v in levels) if isinstance(levels, list) else (),
                    nullable=bool(entry.get("nullable", True)),
                )
            )
    return tuple(columns)


_DTYPES = frozenset({"string", "integer", "number", "boolean", "datetime"})


# --- the cell codec: how one value of each dtype is written, and what a reader accepts ------------

TRUE_TEXT, FALSE_TEXT = "true", "false"
MISSING_TEXT = ""
# Numbers are times (ms, s) and percentages: fixed point, at most this many decimals (so
# 1 µs for ms columns), trailing zeros dropped. Never exponent notation.
NUMBER_DECIMALS = 3
# ISO 8601 in UTC, always with microseconds and a "Z"; readers accept any ISO 8601.
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def encode_cell(value: object, dtype: str) -> str:
    """The CSV text of ``value`` in a column of ``dtype`` (None and NaN are ``MISSING_TEXT``).

    Raises
    ------
    ValueError
        For a naive datetime (its time zone is unknown) or a dtype the contract lacks.
    """
    if value is None or value != value:  # NaN and pandas' NA/NaT are missing too
        return MISSING_TEXT
    if dtype == "boolean":
        return TRUE_TEXT if value else FALSE_TEXT
    if dtype == "number":
        text = f"{float(value):.{NUMBER_DECIMALS}f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    if dtype == "integer":
        return str(int(value))  # type: ignore[call-overload]
    if dtype == "datetime":
        return _encode_datetime(value)
    if dtype == "string":
        return str(value)
    raise ValueError(f"unknown export dtype {dtype!r}")


def _encode_datetime(value: object) -> str:
    if not isinstance(value, datetime):
        raise ValueError(f"{value!r} is not a datetime")
    if value.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; export times are UTC")
    return value.astimezone(UTC).strftime(DATETIME_FORMAT)
