"""Read-only queries used by views, commands and the admin."""

from __future__ import annotations

from studyapp.models import Participant, Trial
from studyapp.services.screening import screening_next_trial, screening_state

# Steps a session can be at, in the order a participant meets them.
STEPS = (
    "consent", "demographics", "calibration", "screening", "instructions", "trial",
    "done", "declined", "screened_out", "expired",
)


def participant_by_token(*, token: str) -> Participant | None:
    return Participant.objects.select_related("study", "study__bundle", "condition").filter(token=token).first()


def demographics_pending(participant: Participant) -> bool:
    return bool(participant.study.demographics) and not participant.demographics


def participant_step(*, participant: Participant) -> tuple[str, int | None]:
    """Where the participant is: (step name, trial position or screening trial number)."""
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
    first_open = Trial.objects.filter(participant=participant, response__isnull=True).order_by("position").first()
    if first_open is None:
        return "done", None
    return "trial", first_open.position


def participant_progress(*, participant: Participant) -> tuple[int, int]:
    """(answered, total) trials."""
    trials = Trial.objects.filter(participant=participant)
    return trials.filter(response__isnull=False).count(), trials.count()


def trial_for_page(*, participant: Participant, position: int) -> Trial | None:
    """A trial of this participant with everything its page shows (None if not theirs)."""
    return (
        Trial.objects.select_related(
            "stimulus__original_audio", "stimulus__visual_heatmap", "stimulus__audible_heatmap",
            "stimulus__plain_image", "condition", "response",
        )
        .filter(participant=participant, position=position)
        .first()
    )


def previous_revisable_position(*, participant: Participant, position: int) -> int | None:
    """The trial before ``position`` a participant may go back to (studies with allow_back)."""
    if not participant.study.allow_back:
        return None
    previous = Trial.objects.filter(participant=participant, position=position - 1).first()
    if previous is None or previous.kind == Trial.Kind.PRACTICE:
        return None
    return previous.position
