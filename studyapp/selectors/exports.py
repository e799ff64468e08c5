"""The rows of export v1, streamed from the database (``services.exports`` writes them).

Rows are read with ``iterator()`` as plain tuples, so a chunk of tuples is all that
is ever held in memory however large the study is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Count, Max, Min, Q

from contracts import export_format as fmt
from studyapp.models import AudioEvent, Participant, Response, Study
from studyapp.selectors.designs import design_task
from studyapp.selectors.questions import question_cells

CHUNK = 2000


def _participants(study: Study, include_pilot: bool) -> Any:
    qs = Participant.objects.filter(study=study)
    return qs if include_pilot else qs.filter(is_pilot=False)


# Export column -> database path. Rows are read as plain tuples (no model instances):
# several times faster, and a chunk of tuples is all that is ever held in memory.
TRIAL_FIELDS = {
    "participant": "trial__participant__pseudonym",
    "is_pilot": "trial__participant__is_pilot",
    "condition": "trial__condition__name",
    "modality": "trial__condition__modality",
    "method": "trial__stimulus__method",
    "trial_kind": "trial__kind",
    "trial_position": "trial__position",
    "stimulus": "trial__stimulus__stimulus_id",
    "source_recording": "trial__stimulus__source_recording",
    "speaker": "trial__stimulus__speaker",
    "true_label": "trial__stimulus__true_label",
    "predicted_label": "trial__stimulus__predicted_label",
    "model_correct": "trial__stimulus__model_correct",
    "model_id": "trial__stimulus__model_id",
    "partner_stimulus": "trial__partner__stimulus_id",
    "partner_method": "trial__partner__method",
    "partner_model_id": "trial__partner__model_id",
    # The two faithfulness records are spread into faith_* / partner_faith_* cells.
    "faithfulness": "trial__stimulus__faithfulness",
    "partner_faithfulness": "trial__partner__faithfulness",
    "answer": "answer",
    "answer_correct": "answer_correct",
    "rating": "rating",
    "confidence": "confidence",
    "rt_ms": "rt_ms",
    "server_rt_ms": "server_rt_ms",
    "plays_original": "plays_original",
    "plays_explanation": "plays_explanation",
    "focus_losses": "focus_losses",
    "hidden_count": "hidden_count",
    "hidden_ms": "hidden_ms",
    "log_span_ms": "log_span_ms",
    "presented_at": "trial__presented_at",
    "answered_at": "received_at",
}
PARTICIPANT_FIELDS = {
    "participant": "pseudonym",
    "is_pilot": "is_pilot",
    "condition": "condition__name",
    "status": "status",
    "seed": "seed",
    "consent_version": "consent_version",
    "started_at": "started_at",
    "completed_at": "completed_at",
    "screening_passed": "screening_passed",
    "screening_score": "screening_score",
    "n_trials_answered": "n_answered",
    "catch_total": "n_catch",
    "catch_correct": "n_catch_ok",
    "demographics": "demographics",
    "question_answers": "question_answers",
}
RECRUITMENT_FIELDS = (
    "prolific_pid",
    "prolific_study_id",
    "prolific_session_id",
    "participant_label",
)
DEMOGRAPHICS = ("age_range", "hearing_problems", "native_language", "audio_device")
EVENT_FIELDS = {
    "participant": "trial__participant__pseudonym",
    "trial_position": "trial__position",
    "stimulus": "trial__stimulus__stimulus_id",
    "media": "media",
    "event": "event",
    "client_ms": "client_ms",
    "media_time_s": "media_time_s",
}


def _tuples(qs: Any, fields: dict[str, str] | tuple[str, ...]) -> Iterator[dict[str, Any]]:
    names = list(fields)
    paths = list(fields.values()) if isinstance(fields, dict) else names
    for values in qs.values_list(*paths).iterator(chunk_size=CHUNK):
        yield dict(zip(names, values, strict=True))


# Speed and plausibility flags of a trial's row (contracts/export_format.py describes them).
FAST_RT_MS = 200.0
LOG_SLACK_MS = 1000.0


def trial_flags(row: dict[str, Any]) -> dict[str, bool]:
    """``flag_fast`` and ``flag_log_implausible`` of one trial row (``rt_ms``, ``server_rt_ms``, ``log_span_ms``)."""
    rt, server, span = row["rt_ms"], row["server_rt_ms"], row["log_span_ms"]
    return {
        "flag_fast": rt is not None and rt < FAST_RT_MS,
        "flag_log_implausible": span is not None
        and server is not None
        and span > server + LOG_SLACK_MS,
    }


def trial_rows(study: Study, *, include_pilot: bool) -> Iterator[dict[str, Any]]:
    """One row per answered trial, in participant and trial order."""
    responses = (
        Response.objects.filter(trial__participant__in=_participants(study, include_pilot))
        .annotate(
            log_span_ms=Max("trial__audio_events__client_ms")
            - Min("trial__audio_events__client_ms")
        )
        .order_by("trial__participant_id", "trial__position")
    )
    for row in _tuples(responses, TRIAL_FIELDS):
        row.update(
            **fmt.faithfulness_cells(row.pop("faithfulness"), prefix=fmt.FAITH_PREFIX),
            **fmt.faithfulness_cells(
                row.pop("partner_faithfulness"), prefix=fmt.PARTNER_FAITH_PREFIX
            ),
            study=study.slug,
            task=design_task(study),
            design=study.design,
            explanation_only=study.explanation_only,
            **trial_flags(row),
        )
        yield row


def participant_rows(
    study: Study, *, include_pilot: bool, with_ids: bool
) -> Iterator[dict[str, Any]]:
    """One row per session, with answer and catch-trial counts."""
    answered = Q(trials__response__isnull=False) & ~Q(trials__kind="practice")
    catch = Q(trials__response__isnull=False, trials__kind="catch")
    qs = (
        _participants(study, include_pilot)
        .annotate(
            n_answered=Count("trials", filter=answered),
            n_catch=Count("trials", filter=catch),
            n_catch_ok=Count("trials", filter=catch & Q(trials__response__answer_correct=True)),
        )
        .order_by("id")
    )
    fields = {**PARTICIPANT_FIELDS, **({k: k for k in RECRUITMENT_FIELDS} if with_ids else {})}
    for row in _tuples(qs, fields):
        demographics = row.pop("demographics") or {}
        row.update(question_cells(row.pop("question_answers")))
        started, completed = row["started_at"], row["completed_at"]
        row.update(
            study=study.slug,
            consent_version=row["consent_version"] or None,
            duration_s=(completed - started).total_seconds() if completed else None,
            **{k: demographics.get(k) for k in DEMOGRAPHICS},
        )
        yield row


def event_rows(study: Study, *, include_pilot: bool) -> Iterator[dict[str, Any]]:
    """The audio play log, in participant, trial and client-time order."""
    events = AudioEvent.objects.filter(
        trial__participant__in=_participants(study, include_pilot)
    ).order_by("trial__participant_id", "trial__position", "client_ms", "id")
    for row in _tuples(events, EVENT_FIELDS):
        row["study"] = study.slug
        yield row
    yield from screening_event_rows(study, include_pilot=include_pilot)


def screening_event_rows(study: Study, *, include_pilot: bool) -> Iterator[dict[str, Any]]:
    """The headphone screen's play log (media ``screening``), per participant and sound check."""
    sessions = _participants(study, include_pilot).exclude(screening={}).order_by("id")
    for pseudonym, screening in sessions.values_list("pseudonym", "screening").iterator(CHUNK):
        for answer in (screening or {}).get("answers", []):
            for event in answer.get("events", []):
                yield {
                    "study": study.slug,
                    "participant": pseudonym,
                    "trial_position": answer["trial"],
                    "stimulus": None,
                    "media": "screening",
                    "event": event.get("event"),
                    "client_ms": event.get("client_ms"),
                    "media_time_s": event.get("media_time_s"),
                }


def export_row_counts(study: Study, *, include_pilot: bool) -> dict[str, int]:
    """Row counts for the progress bars (three COUNT queries)."""
    participants = _participants(study, include_pilot)
    return {
        "trials": Response.objects.filter(trial__participant__in=participants).count(),
        "participants": participants.count(),
        "events": AudioEvent.objects.filter(trial__participant__in=participants).count(),
    }
