"""Writing export v1 (see ``contracts/export_format.py`` and ``docs/export-format.md``).

Rows are streamed from the database with ``iterator()`` and written as they come,
so memory stays flat however large the study is. Files are written into a
temporary folder that is renamed into place only when complete.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.models import Count, Max, Min, Q
from tqdm import tqdm

from contracts import export_format as fmt
from studyapp.models import AudioEvent, Participant, Response, Study
from studyapp.services.designs import design_task
from studyapp.services.questions import question_cells, study_question_columns

CHUNK = 2000


@dataclass(frozen=True)
class ExportSummary:
    out_dir: Path
    n_trials: int
    n_participants: int
    n_events: int


def _write_csv(
    path: Path,
    columns: tuple[fmt.Column, ...],
    rows: Iterable[dict[str, Any]],
    total: int | None = None,
    progress: bool = False,
) -> int:
    count = 0
    rows = tqdm(
        rows, desc=path.name, total=total, unit="row", disable=not progress or None, leave=False
    )
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([col.name for col in columns])
        for row in rows:
            # The contract's codec: the analysis reads these cells with the same rules.
            writer.writerow([fmt.encode_cell(row.get(col.name), col.dtype) for col in columns])
            count += 1
    return count


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


def trial_rows(study: Study, include_pilot: bool) -> Iterator[dict[str, Any]]:
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


def participant_rows(study: Study, include_pilot: bool, with_ids: bool) -> Iterator[dict[str, Any]]:
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


def event_rows(study: Study, include_pilot: bool) -> Iterator[dict[str, Any]]:
    """The audio play log, in participant, trial and client-time order."""
    events = AudioEvent.objects.filter(
        trial__participant__in=_participants(study, include_pilot)
    ).order_by("trial__participant_id", "trial__position", "client_ms", "id")
    for row in _tuples(events, EVENT_FIELDS):
        row["study"] = study.slug
        yield row
    yield from screening_event_rows(study, include_pilot)


def screening_event_rows(study: Study, include_pilot: bool) -> Iterator[dict[str, Any]]:
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


def _sizes(study: Study, include_pilot: bool) -> dict[str, int]:
    """Row counts for the progress bars (three COUNT queries)."""
    participants = _participants(study, include_pilot)
    return {
        "trials": Response.objects.filter(trial__participant__in=participants).count(),
        "participants": participants.count(),
        "events": AudioEvent.objects.filter(trial__participant__in=participants).count(),
    }


def export_write(
    *,
    study: Study,
    out_dir: Path,
    include_pilot: bool = False,
    include_recruitment_ids: bool = False,
    progress: bool = False,
) -> ExportSummary:
    """Write the export of ``study`` into ``out_dir`` (created; must not exist or be empty).

    Parameters
    ----------
    study : the study to export.
    out_dir : new folder for trials.csv, participants.csv, events.csv, dataset_description.json.
    include_pilot : also export sessions collected while the study was in pilot mode.
    include_recruitment_ids : add the recruiter's ids (e.g. Prolific ids) to participants.csv.
    progress : show a progress bar per file on stderr.
    """
    sizes = _sizes(study, include_pilot) if progress else {}
    questions = study_question_columns(study=study)
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir}: folder exists and is not empty")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir.parent))
    try:
        n_trials = _write_csv(
            tmp / fmt.TRIALS_FILE,
            fmt.file_columns(fmt.TRIALS_FILE),
            trial_rows(study, include_pilot),
            sizes.get("trials"),
            progress,
        )
        n_participants = _write_csv(
            tmp / fmt.PARTICIPANTS_FILE,
            fmt.file_columns(
                fmt.PARTICIPANTS_FILE,
                with_recruitment_ids=include_recruitment_ids,
                questions=questions,
            ),
            participant_rows(study, include_pilot, include_recruitment_ids),
            sizes.get("participants"),
            progress,
        )
        n_events = _write_csv(
            tmp / fmt.EVENTS_FILE,
            fmt.file_columns(fmt.EVENTS_FILE),
            event_rows(study, include_pilot),
            sizes.get("events"),
            progress,
        )
        codebook = fmt.codebook(
            study=study.slug,
            title=study.title,
            with_recruitment_ids=include_recruitment_ids,
            questions=questions,
        )
        codebook["include_pilot"] = include_pilot
        (tmp / fmt.CODEBOOK_FILE).write_text(
            json.dumps(codebook, indent=2) + "\n", encoding="utf-8"
        )
        if out_dir.exists():
            out_dir.rmdir()
        tmp.replace(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportSummary(out_dir, n_trials, n_participants, n_events)
