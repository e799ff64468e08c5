"""A study as the researcher sees it: whether its design is frozen, its factors, what it measures."""

from __future__ import annotations

from studyapp.models import Condition, Stimulus, Study
from studyapp.selectors.designs import design_baseline_task

FROZEN_REASON = (
    "This study went live on {date}, so its design is frozen: changing what participants see or are "
    'asked would mix two experiments in one data set. Use the "Duplicate study" action to make a new '
    "version with a changed design."
)
MODALITY_ORDER = tuple(Condition.Modality.values)


def study_is_frozen(study: Study) -> bool:
    """True once the study has gone live (its design can no longer change)."""
    return study.live_since is not None


def study_frozen_reason(study: Study) -> str:
    """The sentence the admin shows above a frozen design (empty if not frozen)."""
    return FROZEN_REASON.format(date=study.live_since.date()) if study.live_since else ""


def study_factor_levels(study: Study) -> tuple[list[str], list[str]]:
    """The modalities and methods the study's conditions cross."""
    conditions = list(study.conditions.all())
    modalities = sorted({c.modality for c in conditions}, key=MODALITY_ORDER.index)
    methods = sorted({c.method for c in conditions if c.method})
    return modalities, methods


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
