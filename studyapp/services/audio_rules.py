"""The study's audio rules, checked on the server against the browser's event log.

The trial page enforces the rules as the participant listens; this module checks the
log that comes with the answer, so an answer from a page that did not follow the rules
(an old or altered page, a script) is refused rather than silently stored.

Event semantics (the export's ``events.csv`` uses the same names):
``play``     playback started, from the beginning or resumed after a pause
             (``media_time_s`` tells which);
``replay``   playback started again from the beginning after the clip had ended;
``pause``    playback stopped before the end;
``ended``    playback reached the end;
``seek_blocked`` the browser or operating system tried to seek and the page undid it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from studyapp.models import Condition, Study, Trial
from studyapp.selectors.designs import design_shows_explanation

# Share of the clip's duration that must have played, by the browser's clock, between
# a start from the beginning and ``ended``: generous for slow devices, tight enough to
# catch a skipped or fast-forwarded clip.
MIN_LISTENED_SHARE = 0.8
LISTEN_SLACK_MS = 150.0
START_TOLERANCE_S = 0.05
MEDIA_LABELS = {
    "original": "recording",
    "explanation": "audible explanation",
    "partner": "second audible explanation",
}


def required_media(trial: Trial, *, study: Study | None = None) -> list[str]:
    """Players the participant must use on this trial's page (``study``: the trial's, if at hand)."""
    study = study or trial.participant.study
    modality = trial.condition.modality
    if not design_shows_explanation(study=study, kind=trial.kind):
        modality = Condition.Modality.NONE
    audible = modality in {Condition.Modality.AUDIBLE, Condition.Modality.BOTH}
    media = [] if study.explanation_only else ["original"]
    if audible:
        media.append("explanation")
    if audible and trial.partner_id:
        media.append("partner")
    return media


def _sorted(events: Iterable[dict[str, Any]], media: str) -> list[dict[str, Any]]:
    return sorted((e for e in events if e["media"] == media), key=lambda e: e["client_ms"])


def play_count(events: Sequence[dict[str, Any]], *, media: str) -> int:
    """How many times playback of ``media`` started from the beginning."""
    mine = _sorted(events, media)
    first = any(e["event"] == "play" for e in mine)
    return int(first) + sum(1 for e in mine if e["event"] == "replay")


def heard_to_end(events: Sequence[dict[str, Any]], *, media: str, duration_s: float | None) -> bool:
    """True if some playback ran from the beginning to ``ended``.

    With a known duration, the time actually spent playing (start to pause or end,
    summed over resumptions) must reach ``MIN_LISTENED_SHARE`` of it.
    """
    listened, started_at = 0.0, None
    for event in _sorted(events, media):
        name, t = event["event"], event["client_ms"]
        if name in {"play", "replay"}:
            if name == "replay" or (event.get("media_time_s") or 0.0) <= START_TOLERANCE_S:
                listened = 0.0
            started_at = t
        elif name in {"pause", "ended"} and started_at is not None:
            listened += t - started_at
            started_at = None
            if name == "ended":
                if (
                    duration_s is None
                    or listened >= MIN_LISTENED_SHARE * duration_s * 1000 - LISTEN_SLACK_MS
                ):
                    return True
                listened = 0.0
    return False


def _duration(trial: Trial, media: str) -> float | None:
    stim = trial.stimulus
    if media == "partner":
        return trial.partner.audible_heatmap.duration_s if trial.partner else None
    item = stim.original_audio if media == "original" else stim.audible_heatmap
    return item.duration_s


def audio_rule_problems(
    *, study: Study, trial: Trial, events: Sequence[dict[str, Any]]
) -> list[str]:
    """Every way the event log breaks the study's audio rules (empty if none)."""
    problems = []
    required = required_media(trial, study=study)
    for media in {e["media"] for e in events} - set(required):
        problems.append(
            f"events for the {MEDIA_LABELS[media]} player, which this trial does not have"
        )
    for media in required:
        label = MEDIA_LABELS[media]
        replays = sum(1 for e in events if e["media"] == media and e["event"] == "replay")
        if replays > study.max_replays:
            problems.append(
                f"the {label} was replayed {replays} times; the study allows {study.max_replays}"
            )
        if study.audio_must_finish:
            duration = None if study.allow_seeking else _duration(trial, media)
            if not heard_to_end(events, media=media, duration_s=duration):
                problems.append(f"the {label} was not heard to the end")
    return problems


def listening_floor_s(*, study: Study, trial: Trial) -> float:
    """The least time, on the server's clock, between serving the trial and its answer.

    With ``audio_must_finish``, every required clip is heard to the end, one after the
    other (the page plays one clip at a time): at least ``MIN_LISTENED_SHARE`` of their
    summed durations, less ``LISTEN_SLACK_MS`` (the same allowance as the log's check).
    Clips of unknown duration count zero.
    """
    if not study.audio_must_finish:
        return 0.0
    total = sum(_duration(trial, media) or 0.0 for media in required_media(trial, study=study))
    return max(0.0, MIN_LISTENED_SHARE * total - LISTEN_SLACK_MS / 1000)


def answered_too_soon(*, study: Study, trial: Trial, elapsed_s: float) -> str | None:
    """Why an answer ``elapsed_s`` after the trial was served is refused (None: it is not).

    Checked on the server's own clock, whatever the event log claims: a forged or
    replayed log cannot make an answer arrive sooner than the audio takes to play.
    """
    floor = listening_floor_s(study=study, trial=trial)
    if elapsed_s >= floor:
        return None
    return (
        f"the answer arrived {elapsed_s:.2f} s after the trial was shown, "
        f"sooner than its audio takes to play ({floor:.2f} s)"
    )
