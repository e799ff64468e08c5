"""Read-only queries used by views, commands and the admin."""

from __future__ import annotations

from functools import lru_cache

from django.db.models import Count

from studyapp.models import Bundle, Participant, Stimulus, Trial
from studyapp.services.screening import screening_next_trial, screening_state

# Steps a session can be at, in the order a participant meets them.
STEPS = (
    "consent", "demographics", "calibration", "screening", "instructions", "trial",
    "done", "declined", "screened_out", "expired",
)


def participant_by_token(*, token: str) -> Participant | None:
    """The session behind ``token`` with its study, bundle and condition (not the bundle's manifest).

    The manifest lists every stimulus of the bundle and can run to megabytes; no
    participant page needs it whole (``bundle_colormap`` reads the one value they do).
    """
    return (Participant.objects.select_related("study", "study__bundle", "condition")
            .defer("study__bundle__manifest").filter(token=token).first())


# What storing an answer reads of the session, its study and bundle. The rest stays
# deferred (loaded only if a rarer path reads it): this query runs on every answer, and
# turning a hundred columns into Python objects was a third of the work of one.
_ANSWER_FIELDS = (
    "token", "pseudonym", "status", "study_id", "condition_id", "last_seen_at", "consented_at",
    "instructions_seen_at", "screening_passed", "demographics",
    "study__slug", "study__status", "study__bundle_id", "study__task", "study__ask_rating", "study__ask_confidence",
    "study__audio_must_finish", "study__max_replays", "study__allow_seeking", "study__allow_back",
    "study__time_limit_minutes", "study__demographics", "study__headphone_screen",
    "study__bundle__classes", "study__bundle__manifest_sha256",
)


def participant_for_answer(*, token: str) -> Participant | None:
    """The session behind ``token`` with just what storing an answer reads (see ``_ANSWER_FIELDS``)."""
    return (Participant.objects.select_related("study", "study__bundle").only(*_ANSWER_FIELDS)
            .filter(token=token).first())


@lru_cache(maxsize=512)
def _colormap(bundle_id: int, manifest_sha256: str) -> str:
    # Keyed by content hash as well: a bundle never changes, but a test database may reuse an id.
    found = Bundle.objects.filter(pk=bundle_id).values_list("manifest__rendering__visual__colormap", flat=True).first()
    return found if isinstance(found, str) else ""


def bundle_colormap(bundle: Bundle) -> str:
    """The colour map of the bundle's visual explanations (``""`` if the manifest names none)."""
    if "manifest" not in bundle.get_deferred_fields():
        visual = (bundle.manifest.get("rendering") or {}).get("visual") or {}
        return str(visual.get("colormap") or "")
    return _colormap(bundle.pk, bundle.manifest_sha256)


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
    counts = Trial.objects.filter(participant=participant).aggregate(answered=Count("response"), total=Count("id"))
    return counts["answered"], counts["total"]


def trial_for_page(*, participant: Participant, position: int) -> Trial | None:
    """A trial of this participant with everything its page shows (None if not theirs).

    Two small queries rather than one join of eight tables: PostgreSQL plans every
    query afresh, and planning that join took longer than running both (docs/benchmarks.md).
    """
    trial = (Trial.objects.select_related("condition", "response")
             .filter(participant=participant, position=position).first())
    if trial is not None:
        trial.stimulus = Stimulus.objects.select_related(
            "original_audio", "visual_heatmap", "audible_heatmap", "plain_image").get(pk=trial.stimulus_id)
    return trial


def previous_revisable_position(*, participant: Participant, position: int) -> int | None:
    """The trial before ``position`` a participant may go back to (studies with allow_back)."""
    if not participant.study.allow_back:
        return None
    previous = Trial.objects.filter(participant=participant, position=position - 1).first()
    if previous is None or previous.kind == Trial.Kind.PRACTICE:
        return None
    return previous.position
