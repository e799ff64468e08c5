"""Read-only queries used by views, commands and the admin."""

from __future__ import annotations

from studyapp.models import Participant, Trial


def participant_by_token(*, token: str) -> Participant | None:
    return Participant.objects.select_related("study", "study__bundle", "condition").filter(token=token).first()


def participant_step(*, participant: Participant) -> tuple[str, int | None]:
    """Where the participant is: (step name, trial position or None)."""
    status = participant.status
    terminal = {
        Participant.Status.DECLINED: "declined",
        Participant.Status.SCREENED_OUT: "screened_out",
        Participant.Status.COMPLETED: "done",
    }
    if status in terminal:
        return terminal[status], None
    if participant.consented_at is None:
        return "consent", None
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
