"""A participant's path through a study: enrol, consent, answer, complete, withdraw."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from studyapp.models import AudioEvent, Condition, Participant, Response, Study, Trial
from studyapp.selectors.assignment import Assignment, assignment_in_arm, assignment_make
from studyapp.selectors.designs import allowed_answers, design_answer_correct
from studyapp.selectors.participants import open_trials as open_trials_of
from studyapp.selectors.participants import participant_resumable, recruitment_key, trial_answered
from studyapp.selectors.questions import questions_pending
from studyapp.services.audio_rules import answered_too_soon, audio_rule_problems, play_count

RECRUITMENT_FIELDS = {
    "PROLIFIC_PID": "prolific_pid",
    "STUDY_ID": "prolific_study_id",
    "SESSION_ID": "prolific_session_id",
    "participant": "participant_label",
}
ACTIVE = (Participant.Status.STARTED, Participant.Status.IN_PROGRESS)


class StudyUnavailable(Exception):
    """The study is not taking participants (closed, draft, or every condition full)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class AnswerRejected(ValueError):
    """An answer the server will not store; ``code`` tells the view how to reply.

    Codes: ``invalid`` (malformed), ``rules`` (audio rules broken), ``not_found``,
    and the stale-page codes ``answered``, ``order`` and ``state``.
    """

    def __init__(self, message: str, code: str = "invalid") -> None:
        self.code = code
        super().__init__(message)


def participant_enroll(*, study: Study, recruitment: dict[str, str]) -> tuple[Participant, bool]:
    """Start (or resume) a session; returns (participant, created)."""
    existing = participant_resumable(study=study, recruitment=recruitment)
    if existing:
        return existing, False
    if not study.is_open:
        raise StudyUnavailable("closed")
    key = recruitment_key(recruitment)
    try:
        return _enroll_new(study.pk, key, recruitment), True
    except IntegrityError:
        # A concurrent request with the same recruitment id won the race: resume it.
        return Participant.objects.get(study=study, recruitment_key=key), False


def participant_enroll_test(*, study: Study, arm: str) -> Participant:
    """A test session the researcher starts in the group ``arm`` of a pilot or live study.

    It is flagged as pilot whatever the study's status, so in a live study it takes no
    slot and stays out of the live dashboard and of a default export.
    """
    if not study.is_open:
        raise StudyUnavailable("closed")
    with transaction.atomic():
        seed = secrets.randbits(48)
        assignment = assignment_in_arm(study=study, arm=arm, seed=seed)
        return _participant_create(study, assignment, seed, key=None, recruitment={}, pilot=True)


def _enroll_new(study_id: int, key: str | None, recruitment: dict[str, str]) -> Participant:
    with transaction.atomic():
        # Locking the study row serialises assignment decisions across arrivals.
        study = Study.objects.select_for_update().get(pk=study_id)
        seed = secrets.randbits(48)
        assignment = assignment_make(study=study, seed=seed)
        if assignment is None:
            raise StudyUnavailable("full")
        pilot = study.status == Study.Status.PILOT
        return _participant_create(study, assignment, seed, key, recruitment, pilot=pilot)


def _participant_create(
    study: Study,
    assignment: Assignment,
    seed: int,
    key: str | None,
    recruitment: dict[str, str],
    *,
    pilot: bool,
) -> Participant:
    """Store a session and its planned trials (inside the caller's transaction)."""
    participant = Participant.objects.create(
        study=study,
        condition=assignment.condition,
        arm=assignment.arm,
        rotation=assignment.rotation,
        token=secrets.token_urlsafe(32),
        pseudonym=_new_pseudonym(study),
        seed=seed,
        is_pilot=pilot,
        recruitment_key=key,
        **{k: v for k, v in recruitment.items() if k in RECRUITMENT_FIELDS.values()},
    )
    Trial.objects.bulk_create(
        Trial(
            participant=participant,
            position=i,
            kind=p.kind,
            stimulus=p.stimulus,
            condition=p.condition,
            expected_answer=p.expected_answer,
            partner=p.partner,
        )
        for i, p in enumerate(assignment.trials, start=1)
    )
    return participant


def _new_pseudonym(study: Study) -> str:
    while True:
        candidate = "P" + secrets.token_hex(4).upper()
        if not Participant.objects.filter(study=study, pseudonym=candidate).exists():
            return candidate


# ``last_seen_at`` serves time limits counted in minutes, so it is written at most this
# often: one UPDATE per request would be most of the database work of a page.
TOUCH_EVERY = timedelta(seconds=30)


def participant_touch(*, participant: Participant) -> None:
    """Note that the participant is active (at most once per ``TOUCH_EVERY``)."""
    now = timezone.now()
    if participant.last_seen_at and now - participant.last_seen_at < TOUCH_EVERY:
        return
    Participant.objects.filter(pk=participant.pk).update(last_seen_at=now)
    participant.last_seen_at = now


def participant_expire_if_idle(*, participant: Participant) -> bool:
    """Mark an active session abandoned after ``time_limit_minutes`` without activity.

    Its condition slot has already been released to new arrivals by then (see
    ``selectors.assignment``), so letting it continue could overfill a condition.
    """
    limit = participant.study.time_limit_minutes
    if participant.status not in ACTIVE or not limit:
        return False
    cutoff = timezone.now() - timedelta(minutes=limit)
    if participant.last_seen_at and participant.last_seen_at >= cutoff:
        return False  # (decided on the row just read; the update below re-checks it)
    expired = Participant.objects.filter(
        pk=participant.pk, status__in=ACTIVE, last_seen_at__lt=cutoff
    ).update(status=Participant.Status.ABANDONED)
    if expired:
        participant.status = Participant.Status.ABANDONED
    return bool(expired)


def participant_consent(*, participant: Participant, agree: bool) -> Participant:
    """Record the decision on the current consent text (its version is stored)."""
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


def participant_demographics_save(
    *, participant: Participant, answers: dict[str, str | None]
) -> Participant:
    """Store the demographic answers once (the questions are the study's ``demographics``)."""
    asked = list(participant.study.demographics or [])
    unknown = set(answers) - set(asked)
    if unknown:
        raise ValueError(f"answers to questions the study does not ask: {sorted(unknown)}")
    if participant.status == Participant.Status.IN_PROGRESS and not participant.demographics:
        participant.demographics = {key: answers.get(key) for key in asked}
        participant.save(update_fields=["demographics"])
    return participant


def participant_instructions_done(*, participant: Participant) -> None:
    if participant.instructions_seen_at is None:
        participant.instructions_seen_at = timezone.now()
        participant.save(update_fields=["instructions_seen_at"])


def participant_withdraw(*, participant: Participant) -> int:
    """Delete the session and everything recorded in it; returns the rows deleted.

    Nothing is kept: not the recruitment id, not the answers, not the audio log.
    (Exports made before the withdrawal are files the researcher already holds.)
    """
    with transaction.atomic():
        deleted, _ = Participant.objects.filter(pk=participant.pk).delete()
    return deleted


def participant_finish_if_complete(*, participant: Participant) -> bool:
    """Complete an active session that has no unanswered trial left (e.g. zero trials)."""
    if participant.status != Participant.Status.IN_PROGRESS:
        return participant.status == Participant.Status.COMPLETED
    if Trial.objects.filter(~trial_answered(), participant=participant).exists():
        return False
    _complete(participant)
    return True


def trial_present(*, trial: Trial) -> Trial:
    """Record when the trial page was first served (for server-side response time)."""
    if trial.presented_at is None:
        now = timezone.now()
        if Trial.objects.filter(pk=trial.pk, presented_at__isnull=True).update(presented_at=now):
            trial.presented_at = now
        else:  # another request served it first: theirs is the time
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
    focus_losses: int | None = None
    hidden_count: int | None = None
    hidden_ms: float | None = None


def answer_is_correct(trial: Trial, *, answer: str) -> bool:
    if trial.kind == Trial.Kind.CATCH:
        return answer == trial.expected_answer
    return design_answer_correct(
        study=trial.participant.study, stimulus=trial.stimulus, partner=trial.partner, answer=answer
    )


def asks_rating(study: Study, *, modality: str) -> bool:
    """Whether a trial shown in ``modality`` asks how helpful the explanation was: only
    where there is an explanation to rate."""
    return study.ask_rating and modality != Condition.Modality.NONE


def _check_shape(study: Study, answer: Answer) -> None:
    if answer.answer not in allowed_answers(study):
        raise AnswerRejected(f"answer {answer.answer!r} is not one of the options")
    if study.ask_confidence and answer.confidence is None:
        raise AnswerRejected("a confidence (0-100) is required")


@dataclass(frozen=True)
class Recorded:
    """The outcome of :func:`answer_record`.

    ``next_trials``: after a newly stored answer, the first unanswered trial and the one
    after it (fewer near the end; none when the answer was the last one, a repeat or a
    revision), read with everything their pages show, for the reply that carries the
    next trial.
    """

    response: Response
    created: bool
    next_trials: tuple[Trial, ...] = ()

    @property
    def next_position(self) -> int | None:
        return self.next_trials[0].position if self.next_trials else None


def response_record(
    *, participant: Participant, position: int, answer: Answer
) -> tuple[Response, bool]:
    """Store the answer to trial ``position``; returns (response, created). See :func:`answer_record`."""
    recorded = answer_record(participant=participant, position=position, answer=answer)
    return recorded.response, recorded.created


def answer_record(
    *,
    participant: Participant,
    position: int,
    answer: Answer,
) -> Recorded:
    """Store the answer to trial ``position`` exactly once.

    The same submission arriving twice (double click, a retry whose reply was lost,
    also after the session completed) returns the stored response with
    ``created=False``. A different second answer is refused, unless the study allows
    going back, in which case it revises the stored answer.

    Raises
    ------
    AnswerRejected
        With ``code`` telling the view how to reply (see its docstring).
    """
    if participant.status not in {Participant.Status.IN_PROGRESS, Participant.Status.COMPLETED}:
        raise AnswerRejected("this session is not taking answers", code="state")
    _check_shape(participant.study, answer)
    # The common case: the first open trials, the first being this one.
    open_trials = (
        open_trials_of(participant=participant)
        if participant.status == Participant.Status.IN_PROGRESS
        else []
    )
    if open_trials and open_trials[0].position == position:
        return _record_new(participant, open_trials, answer)
    trial = _trial_with_response(participant, position)
    if trial is None:
        raise AnswerRejected(f"no trial {position} in this session", code="not_found")
    existing = getattr(trial, "response", None)
    if existing and answer.submission_key and existing.submission_key == answer.submission_key:
        return Recorded(existing, False)  # already stored: a retry whose reply was lost
    if participant.status != Participant.Status.IN_PROGRESS:
        raise AnswerRejected("this session is not taking answers", code="state")
    if existing:
        return Recorded(_repeat_or_revise(existing, trial, answer, participant.study), False)
    raise AnswerRejected("trials must be answered in order", code="order")


def _record_new(participant: Participant, open_trials: list[Trial], answer: Answer) -> Recorded:
    trial = open_trials[0]
    if trial.presented_at is None:
        # Never served: no page showed it, so no one can have heard it (the reply sends
        # the browser to the trial page, which shows it).
        raise AnswerRejected("this trial has not been shown yet", code="unseen")
    answer = _with_rating(trial, answer)
    problems = audio_rule_problems(study=participant.study, trial=trial, events=answer.events)
    early = answered_too_soon(
        study=participant.study, trial=trial, elapsed_s=_since_presented(trial)
    )
    problems += [early] if early else []
    if problems:
        raise AnswerRejected("; ".join(problems), code="rules")
    # The last answer completes the session, unless questions after the trials are still due.
    last = len(open_trials) == 1 and not questions_pending(
        participant=participant, placement="after"
    )
    try:
        with transaction.atomic():
            response = _create_response(trial, answer)
            if last:
                _complete(participant)
    except IntegrityError:  # a concurrent copy of this request stored it first
        existing = Response.objects.get(trial=trial)
        return Recorded(_repeat_or_revise(existing, trial, answer, participant.study), False)
    return Recorded(response, True, tuple(open_trials[1:]))


def _trial_with_response(participant: Participant, position: int) -> Trial | None:
    """Trial ``position`` of this participant, with its response if it has one."""
    trial = (
        Trial.objects.select_related(
            "stimulus__original_audio",
            "stimulus__audible_heatmap",
            "condition",
            "response",
        )
        .filter(participant=participant, position=position)
        .first()
    )
    if trial is not None:
        trial.participant = participant
    return trial


def _repeat_or_revise(existing: Response, trial: Trial, answer: Answer, study: Study) -> Response:
    if answer.submission_key and existing.submission_key == answer.submission_key:
        return existing
    if not study.allow_back or trial.kind == Trial.Kind.PRACTICE:
        raise AnswerRejected("this trial has already been answered", code="answered")
    answer = _with_rating(trial, answer)
    with transaction.atomic():
        response = Response.objects.select_for_update().get(pk=existing.pk)
        response.answer, response.answer_correct = (
            answer.answer,
            answer_is_correct(trial, answer=answer.answer),
        )
        response.rating, response.confidence = answer.rating, answer.confidence
        response.submission_key, response.revised_at = answer.submission_key, timezone.now()
        response.save(
            update_fields=[
                "answer",
                "answer_correct",
                "rating",
                "confidence",
                "submission_key",
                "revised_at",
            ]
        )
        _store_events(trial, answer.events)
    return response


def _with_rating(trial: Trial, answer: Answer) -> Answer:
    """The answer with the rating this trial asks (required) or none (a trial without an explanation)."""
    if not asks_rating(trial.participant.study, modality=trial.condition.modality):
        return replace(answer, rating=None)
    if answer.rating is None:
        raise AnswerRejected("a helpfulness rating (1-7) is required")
    return answer


def _since_presented(trial: Trial) -> float:
    """Seconds on the server's clock since the trial was first served."""
    return (timezone.now() - trial.presented_at).total_seconds()


def _create_response(trial: Trial, answer: Answer) -> Response:
    now = timezone.now()
    server_rt = (now - trial.presented_at).total_seconds() * 1000 if trial.presented_at else None
    response = Response(
        trial=trial,
        answer=answer.answer,
        answer_correct=answer_is_correct(trial, answer=answer.answer),
        rating=answer.rating,
        confidence=answer.confidence,
        rt_ms=answer.rt_ms,
        server_rt_ms=server_rt,
        plays_original=play_count(answer.events, media="original"),
        plays_explanation=play_count(answer.events, media="explanation"),
        submission_key=answer.submission_key,
        focus_losses=answer.focus_losses,
        hidden_count=answer.hidden_count,
        hidden_ms=answer.hidden_ms,
    )
    response.save(force_insert=True)
    _store_events(trial, answer.events)
    return response


_MEDIA = frozenset(AudioEvent.Media.values)


def _audio_log(events: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """The events of the players whose events are stored (the trial page's two)."""
    return [e for e in events if e.get("media") in _MEDIA]


# What the page reports of each audio event; the trial and the time received are the server's.
EVENT_VALUES = ("media", "event", "client_ms", "media_time_s")


def _store_events(trial: Trial, events: tuple[dict[str, Any], ...]) -> None:
    AudioEvent.objects.bulk_create(
        AudioEvent(trial=trial, **{name: e.get(name) for name in EVENT_VALUES})
        for e in _audio_log(events)
    )


def _complete(participant: Participant) -> None:
    now = timezone.now()
    Participant.objects.filter(pk=participant.pk).update(
        status=Participant.Status.COMPLETED, completed_at=now, last_seen_at=now
    )
    participant.status = Participant.Status.COMPLETED
    participant.completed_at = now
