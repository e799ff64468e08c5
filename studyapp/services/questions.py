"""Storing the answers to the researcher's custom questions (the reads: ``selectors.questions``)."""

from __future__ import annotations

from django.utils import timezone

from studyapp.models import Participant
from studyapp.selectors.questions import Answer, study_questions


def participant_questions_save(
    *, participant: Participant, placement: str, answers: dict[str, Answer]
) -> Participant:
    """Store the answers to one page of questions, once (a second submission changes nothing)."""
    asked = [q.column for q in study_questions(study=participant.study, placement=placement)]
    unknown = set(answers) - set(asked)
    if unknown:
        raise ValueError(f"answers to questions the page does not ask: {sorted(unknown)}")
    stored = dict(participant.question_answers or {})
    if participant.status != Participant.Status.IN_PROGRESS or placement in stored:
        return participant
    stored[placement] = {
        "answered_at": timezone.now().isoformat(),
        "answers": {column: answers.get(column) for column in asked},
    }
    participant.question_answers = stored
    participant.save(update_fields=["question_answers"])
    return participant
