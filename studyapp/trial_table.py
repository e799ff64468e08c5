"""The preview's trial table: what each trial of one planned session would show (read only).

A researcher checks a design by reading it: for a chosen group and seed, the table lists
each position's kind, stimulus, true label, model decision, whether the model was
right, method and modality, exactly as enrolment would plan them (same planner, same
seed), without creating a session.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from studyapp.models import Study
from studyapp.selectors.assignment import assignment_plan, study_arms

COLUMNS = (
    "position",
    "kind",
    "stimulus",
    "true_label",
    "model_decision",
    "model_correct",
    "method",
    "modality",
    "condition",
    "partner",
)


@dataclass(frozen=True)
class TrialRow:
    position: int
    kind: str
    stimulus: str
    true_label: str
    model_decision: str
    model_correct: bool
    method: str
    modality: str
    condition: str
    partner: str


def study_trial_table(*, study: Study, group: str, seed: int, rotation: int = 0) -> list[TrialRow]:
    """The trials a participant in ``group`` (Latin-square list ``rotation``) with ``seed`` meets.

    Raises ValueError naming the problem for an unknown group or a rotation the group lacks.
    """
    arms = {a.label: a for a in study_arms(study)}
    if group in arms and not 0 <= rotation < len(arms[group].cells):
        raise ValueError(
            f"group {group!r} has {len(arms[group].cells)} list(s): rotation must be "
            f"0 to {len(arms[group].cells) - 1}"
        )
    plan = assignment_plan(study=study, arm=group, rotation=rotation, seed=seed)
    return [
        TrialRow(
            position=i,
            kind=p.kind,
            stimulus=p.stimulus.stimulus_id,
            true_label=p.stimulus.true_label,
            model_decision=p.stimulus.predicted_label,
            model_correct=p.stimulus.model_correct,
            method=p.stimulus.method,
            modality=p.condition.modality,
            condition=p.condition.name,
            partner=p.partner.stimulus_id if p.partner else "",
        )
        for i, p in enumerate(plan, start=1)
    ]


def trial_rows_as_dicts(rows: list[TrialRow]) -> list[dict[str, object]]:
    """The rows keyed by :data:`COLUMNS` (for the CSV download)."""
    return [asdict(row) for row in rows]
