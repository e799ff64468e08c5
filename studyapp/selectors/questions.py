"""The researcher's custom questions: which a page asks, whether it is still due, their export cells.

Answers live on the session (``Participant.question_answers``) by placement, so one
read of the session tells whether a page of questions is still due, and the export
writes them as one participants.csv column per question.
"""

from __future__ import annotations

from typing import Any

from contracts import export_format as fmt
from studyapp.models import Participant, Question, Study

Answer = str | int | float | list[str] | None


def study_questions(*, study: Study, placement: str) -> list[Question]:
    """The questions asked on one page (before or after the trials), in order."""
    return list(study.questions.filter(placement=placement))


def study_question_columns(*, study: Study) -> list[fmt.Column]:
    """participants.csv's custom-question columns with their codebook entries, in page order."""
    return [
        fmt.question_column(
            column=q.column,
            kind=q.kind,
            text=q.text,
            placement=q.placement,
            options=q.option_list,
            minimum=q.minimum,
            maximum=q.maximum,
        )
        for q in study.questions.all()
    ]


def questions_pending(*, participant: Participant, placement: str) -> bool:
    """Whether the page of ``placement`` questions is still to be answered."""
    if placement in (participant.question_answers or {}):
        return False
    return participant.study.questions.filter(placement=placement).exists()


def question_cells(question_answers: dict[str, Any]) -> dict[str, Answer]:
    """A session's answers as export values: multiple choices joined into one cell."""
    cells: dict[str, Answer] = {}
    for page in (question_answers or {}).values():
        for column, value in page.get("answers", {}).items():
            cells[column] = (
                fmt.MULTIPLE_CHOICE_SEPARATOR.join(value) if isinstance(value, list) else value
            )
    return cells
