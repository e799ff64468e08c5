"""What happened to one participant: their session as a list of timed events (read only).

Answers "what happened to participant X?" from what the server recorded: the pages
they reached (server times), each trial shown and answered, every audio event the
browser reported, and the final state. Times are the server's (UTC); the browser's
own clock appears only as an audio event's ``client_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from studyapp.models import AudioEvent, Participant, Response, Study, Trial
from studyapp.selectors.questions import question_cells


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    what: str
    detail: str = ""
    trial: int | None = None
    flagged: bool = False  # something a researcher would want to see (the page was left)


def participant_find(*, study: Study, who: str) -> Participant | None:
    """The session whose pseudonym, Prolific id or participant label is ``who``."""
    who = who.strip()[:200]
    if not who:
        return None
    return (
        study.participants.filter(Q(pseudonym=who) | Q(prolific_pid=who) | Q(participant_label=who))
        .order_by("-started_at")
        .first()
    )


def participant_timeline(*, participant: Participant) -> list[TimelineEntry]:
    """Every recorded event of the session, oldest first."""
    p = participant
    entries = [TimelineEntry(p.started_at, "started", f"group {p.arm or '-'}, list {p.rotation}")]
    if p.consented_at:
        entries.append(TimelineEntry(p.consented_at, "consented", f"version {p.consent_version}"))
    entries += _screening_entries(p)
    if p.instructions_seen_at:
        entries.append(TimelineEntry(p.instructions_seen_at, "instructions read"))
    entries += _question_entries(p)
    entries += _trial_entries(p)
    if p.completed_at:
        entries.append(TimelineEntry(p.completed_at, "completed"))
    entries.sort(key=lambda e: (e.at, e.trial or 0))
    return entries


def _screening_entries(participant: Participant) -> list[TimelineEntry]:
    """The volume page and each headphone-check answer, at the times the server stored."""
    state = participant.screening or {}
    entries = []
    calibration = state.get("calibration")
    if calibration:
        at = datetime.fromisoformat(calibration["at"])
        entries.append(TimelineEntry(at, "volume set", f"{calibration['plays']} play(s)"))
    answers = state.get("answers", [])
    for a in answers:
        verdict = "correct" if a["correct"] else "wrong"
        entries.append(
            TimelineEntry(
                datetime.fromisoformat(a["received_at"]),
                f"sound check {a['trial']} answered",
                verdict,
            )
        )
    if participant.screening_passed is not None and answers:
        entries.append(
            TimelineEntry(
                datetime.fromisoformat(answers[-1]["received_at"]),
                "headphone check " + ("passed" if participant.screening_passed else "failed"),
                f"score {participant.screening_score} of {len(answers)}",
            )
        )
    return entries


def _question_entries(participant: Participant) -> list[TimelineEntry]:
    """Each page of custom questions answered, with the answers."""
    entries = []
    for placement, page in (participant.question_answers or {}).items():
        answers = ", ".join(
            f"{column} = {'(no answer)' if value is None else value}"
            for column, value in question_cells({placement: page}).items()
        )
        entries.append(
            TimelineEntry(
                datetime.fromisoformat(page["answered_at"]),
                f"questions {placement} the trials answered",
                answers,
            )
        )
    return entries


def focus_words(response: Response) -> tuple[str, bool]:
    """Focus and visibility during a trial in words, and whether the page was left at all."""
    if response.focus_losses is None and response.hidden_count is None:
        return "focus not reported (no JavaScript?)", False
    lost, hidden = response.focus_losses or 0, response.hidden_count or 0
    if not lost and not hidden:
        return "stayed on the page", False
    words = [f"window lost focus {lost}x"] if lost else []
    if hidden:
        words.append(f"page hidden {hidden}x for {(response.hidden_ms or 0) / 1000:.1f} s")
    return ", ".join(words), True


def _trial_entries(participant: Participant) -> list[TimelineEntry]:
    entries = []
    trials = Trial.objects.filter(participant=participant).select_related("stimulus", "condition")
    for t in trials:
        if t.presented_at:
            entries.append(
                TimelineEntry(
                    t.presented_at,
                    f"trial {t.position} shown",
                    f"{t.kind}, {t.stimulus.stimulus_id}, {t.condition.name}",
                    t.position,
                )
            )
    responses = Response.objects.filter(trial__participant=participant).select_related("trial")
    for r in responses:
        rt = f", {r.rt_ms / 1000:.1f} s" if r.rt_ms is not None else ""
        focus, left = focus_words(r)
        detail = (
            f"answer {r.answer} ({'correct' if r.answer_correct else 'wrong'}){rt}, "
            f"plays: original {r.plays_original}, explanation {r.plays_explanation}; {focus}"
        )
        entries.append(
            TimelineEntry(
                r.received_at, f"trial {r.trial.position} answered", detail, r.trial.position, left
            )
        )
        if r.revised_at:
            entries.append(
                TimelineEntry(
                    r.revised_at,
                    f"trial {r.trial.position} answer changed",
                    r.answer,
                    r.trial.position,
                )
            )
    events = AudioEvent.objects.filter(trial__participant=participant).select_related("trial")
    for e in events:
        at = f" at {e.media_time_s:.1f} s" if e.media_time_s is not None else ""
        entries.append(
            TimelineEntry(
                e.received_at,
                f"trial {e.trial.position} audio",
                f"{e.event} {e.media}{at} (browser clock {e.client_ms / 1000:.1f} s)",
                e.trial.position,
            )
        )
    return entries


def participant_final_state(*, participant: Participant) -> str:
    """The session's state in words, with when it was last seen."""
    p = participant
    answered = Response.objects.filter(trial__participant=p).count()
    total = p.trials.count()
    pilot = ", pilot" if p.is_pilot else ""
    return (
        f"{p.get_status_display().lower()}{pilot}: {answered} of {total} trials answered, "
        f"last seen {p.last_seen_at:%Y-%m-%d %H:%M:%S} UTC"
    )


def study_recent_sessions(*, study: Study, pilot: bool, limit: int = 50) -> list[Participant]:
    """The most recently started sessions of one phase, newest first."""
    return list(study.participants.filter(is_pilot=pilot).order_by("-started_at")[:limit])
