"""A participant's path through a study: enrol, consent, answer, complete."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from studyapp.models import AudioEvent, Participant, Response, Study, Trial
from studyapp.services.assignment import condition_choose, trial_plan

RECRUITMENT_FIELDS = {
    "PROLIFIC_PID": "prolific_pid",
    "STUDY_ID": "prolific_study_id",
    "SESSION_ID": "prolific_session_id",
    "participant": "participant_label",
}


class StudyUnavailable(Exception):
    """The study is not taking participants (closed, draft, or every condition full)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class AnswerRejected(ValueError):
    """An answer the server will not store; ``code`` tells the view how to reply."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        self.code = code
        super().__init__(message)


def recruitment_key(recruitment: dict[str, str]) -> str | None:
    """The id that makes a second arrival resume the first session."""
    if recruitment.get("prolific_pid"):
        return f"prolific:{recruitment['prolific_pid']}"
    if recruitment.get("participant_label"):
        return f"label:{recruitment['participant_label']}"
    return None


def participant_enroll(*, study: Study, recruitment: dict[str, str]) -> tuple[Participant, bool]:
    """Start (or resume) a session; returns (participant, created)."""
    key = recruitment_key(recruitment)
    if key:
        existing = Participant.objects.filter(study=study, recruitment_key=key).first()
        if existing:
            return existing, False
    if not study.is_open:
        raise StudyUnavailable("closed")
    try:
        return _enroll_new(study.pk, key, recruitment), True
    except IntegrityError:
        # A concurrent request with the same recruitment id won the race: resume it.
        return Participant.objects.get(study=study, recruitment_key=key), False


def _enroll_new(study_id: int, key: str | None, recruitment: dict[str, str]) -> Participant:
    with transaction.atomic():
        # Locking the study row serialises assignment decisions across arrivals.
        study = Study.objects.select_for_update().get(pk=study_id)
        seed = secrets.randbits(48)
        condition = condition_choose(study=study, rng=random.Random(seed))
        if condition is None:
            raise StudyUnavailable("full")
        participant = Participant.objects.create(
            study=study, condition=condition, token=secrets.token_urlsafe(32),
            pseudonym=_new_pseudonym(study), seed=seed, is_pilot=study.status == Study.Status.PILOT,
            recruitment_key=key, **{k: v for k, v in recruitment.items() if k in RECRUITMENT_FIELDS.values()},
        )
        Trial.objects.bulk_create(
            Trial(participant=participant, position=i, kind=p.kind, stimulus=p.stimulus,
                  condition=p.condition, expected_answer=p.expected_answer)
            for i, p in enumerate(trial_plan(study=study, condition=condition, seed=seed), start=1)
        )
    return participant


def _new_pseudonym(study: Study) -> str:
    while True:
        candidate = "P" + secrets.token_hex(4).upper()
        if not Participant.objects.filter(study=study, pseudonym=candidate).exists():
            return candidate


def participant_touch(*, participant: Participant) -> None:
    Participant.objects.filter(pk=participant.pk).update(last_seen_at=timezone.now())


def participant_consent(*, participant: Participant, agree: bool) -> Participant:
    if participant.status != Participant.Status.STARTED or participant.consented_at:
        return participant
    if agree:
        participant.consent_version = participant.study.consent_version
        participant.consented_at = timezone.now()
        participant.status = Participant.Status.IN_PROGRESS
    else:
        participant.status = Participant.Status.DECLINED
    participant.save(update_fields=["consent_version", "consented_at", "status"])
    return participant


def participant_instructions_done(*, participant: Participant) -> None:
    if participant.instructions_seen_at is None:
        participant.instructions_seen_at = timezone.now()
        participant.save(update_fields=["instructions_seen_at"])


def trial_present(*, trial: Trial) -> Trial:
    """Record when the trial page was first served (for server-side response time)."""
    if trial.presented_at is None:
        Trial.objects.filter(pk=trial.pk, presented_at__isnull=True).update(presented_at=timezone.now())
        trial.refresh_from_db(fields=["presented_at"])
    return trial


@dataclass(frozen=True)
class Answer:
    answer: str
    rating: int | None = None
    confidence: int | None = None
    rt_ms: float | None = None
    submission_key: str = ""
    events: tuple[dict[str, Any], ...] = ()


def answer_is_correct(trial: Trial, answer: str) -> bool:
    if trial.kind == Trial.Kind.CATCH:
        return answer == trial.expected_answer
    if trial.participant.study.task == Study.Task.VERIFICATION:
        return (answer == "yes") == trial.stimulus.model_correct
    return answer == trial.stimulus.predicted_label


def allowed_answers(study: Study) -> list[str]:
    return ["yes", "no"] if study.task == Study.Task.VERIFICATION else [str(c) for c in study.bundle.classes]


def response_record(*, participant: Participant, position: int, answer: Answer) -> tuple[Response, bool]:
    """Store the answer to trial ``position``; returns (response, created).

    The same submission arriving twice (double click, retry) returns the stored
    response with ``created=False``; a different second answer is refused.
    """
    study = participant.study
    if participant.status != Participant.Status.IN_PROGRESS:
        raise AnswerRejected("this session is not taking answers", code="state")
    if answer.answer not in allowed_answers(study):
        raise AnswerRejected(f"answer {answer.answer!r} is not one of the options", code="invalid")
    trial = Trial.objects.select_related("stimulus", "participant__study").filter(
        participant=participant, position=position
    ).first()
    if trial is None:
        raise AnswerRejected(f"no trial {position} in this session", code="not_found")
    existing = Response.objects.filter(trial=trial).first()
    if existing:
        return _repeat(existing, answer, study)
    first_open = Trial.objects.filter(participant=participant, response__isnull=True).order_by("position").first()
    if first_open is None or first_open.position != position:
        raise AnswerRejected("trials must be answered in order", code="order")
    try:
        with transaction.atomic():
            response = _create_response(trial, answer)
            _maybe_complete(participant)
    except IntegrityError:
        return _repeat(Response.objects.get(trial=trial), answer, study)
    return response, True


def _repeat(existing: Response, answer: Answer, study: Study) -> tuple[Response, bool]:
    if answer.submission_key and existing.submission_key == answer.submission_key:
        return existing, False
    raise AnswerRejected("this trial has already been answered", code="answered")


def _create_response(trial: Trial, answer: Answer) -> Response:
    now = timezone.now()
    server_rt = (now - trial.presented_at).total_seconds() * 1000 if trial.presented_at else None
    events = [e for e in answer.events if e.get("media") in AudioEvent.Media.values]
    response = Response.objects.create(
        trial=trial, answer=answer.answer, answer_correct=answer_is_correct(trial, answer.answer),
        rating=answer.rating, confidence=answer.confidence, rt_ms=answer.rt_ms, server_rt_ms=server_rt,
        plays_original=sum(1 for e in events if e["media"] == "original" and e["event"] == "play"),
        plays_explanation=sum(1 for e in events if e["media"] == "explanation" and e["event"] == "play"),
        submission_key=answer.submission_key,
    )
    AudioEvent.objects.bulk_create(
        AudioEvent(trial=trial, media=e["media"], event=e["event"], client_ms=e["client_ms"],
                   media_time_s=e.get("media_time_s"))
        for e in events
    )
    return response


def _maybe_complete(participant: Participant) -> None:
    if not Trial.objects.filter(participant=participant, response__isnull=True).exists():
        now = timezone.now()
        Participant.objects.filter(pk=participant.pk).update(
            status=Participant.Status.COMPLETED, completed_at=now, last_seen_at=now
        )
        participant.status = Participant.Status.COMPLETED
        participant.completed_at = now
