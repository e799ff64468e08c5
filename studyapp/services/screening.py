"""Headphone screening with Huggins pitch (after Milne et al., 2021), generated with numpy.

Each screening trial is one stereo WAV with three noise intervals separated by silence.
Two intervals carry the same white noise in both ears (diotic); in the third, the right
ear's noise has its phase inverted (180 degrees) in a narrow band around 600 Hz. Over
headphones the two ears' signals combine in the brain into a faint pitch (Huggins
pitch); over loudspeakers the ears' signals mix acoustically and the pitch disappears,
and neither channel alone holds any cue. The participant says which interval held the
tone. Passing needs ``screen_pass_threshold`` of ``screen_trials`` correct.

Stimuli come from a small fixed pool (``POOL_VARIANTS`` noise draws for each target
interval), written once under ``MEDIA_ROOT/screening`` and served by the site under
URLs that reveal nothing about the answer. Which pool item a participant hears on
which trial is drawn from their stored seed, so a session can be reconstructed.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from studyapp.models import Participant
from studyapp.selectors.screening import (
    N_INTERVALS,
    POOL_VARIANTS,
    SCREENING_VERSION,
    HugginsDesign,
    screening_design,
    screening_state,
)


def _ramped(signal: np.ndarray, design: HugginsDesign) -> np.ndarray:
    n = int(round(design.ramp_s * design.sample_rate))
    if n == 0:
        return signal
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
    out = signal.copy()
    out[:n] *= ramp[:, None] if out.ndim == 2 else ramp
    out[-n:] *= (ramp[::-1])[:, None] if out.ndim == 2 else ramp[::-1]
    return out


def huggins_interval(
    rng: np.random.Generator, *, design: HugginsDesign, dichotic: bool
) -> np.ndarray:
    """One noise interval, shape (samples, 2): left, right.

    With ``dichotic`` the right channel is the same noise with the band
    ``centre_hz * (1 +/- band_fraction)`` phase-inverted; otherwise both ears get
    identical noise. Each channel alone is white noise at ``design.rms``.
    """
    n = int(round(design.interval_s * design.sample_rate))
    left = rng.standard_normal(n)
    right = left
    if dichotic:
        spectrum = np.fft.rfft(left)
        freqs = np.fft.rfftfreq(n, d=1.0 / design.sample_rate)
        lo, hi = (
            design.centre_hz * (1 - design.band_fraction),
            design.centre_hz * (1 + design.band_fraction),
        )
        spectrum[(freqs >= lo) & (freqs <= hi)] *= -1.0
        right = np.fft.irfft(spectrum, n=n)
    stereo = np.stack([left, right], axis=1)
    stereo *= design.rms / np.sqrt(np.mean(left**2))
    return _ramped(stereo, design)


def huggins_trial(rng: np.random.Generator, *, design: HugginsDesign, target: int) -> np.ndarray:
    """Three intervals with the Huggins-pitch one at ``target`` (1-based), shape (samples, 2)."""
    if target not in range(1, N_INTERVALS + 1):
        raise ValueError(f"target interval must be 1..{N_INTERVALS}, got {target}")
    gap = np.zeros((int(round(design.gap_s * design.sample_rate)), 2))
    parts: list[np.ndarray] = []
    for i in range(1, N_INTERVALS + 1):
        if parts:
            parts.append(gap)
        parts.append(huggins_interval(rng, design=design, dichotic=i == target))
    return np.concatenate(parts)


def calibration_noise(rng: np.random.Generator, *, design: HugginsDesign) -> np.ndarray:
    """Diotic white noise at the screening level, shape (samples, 2)."""
    return huggins_interval(
        rng, design=replace(design, interval_s=design.calibration_s), dichotic=False
    )


def _design_key(design: HugginsDesign) -> str:
    blob = json.dumps(asdict(design), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _write_wav_atomic(path: Path, signal: np.ndarray, rate: int) -> None:
    buffer = io.BytesIO()
    sf.write(
        buffer, np.clip(signal, -1.0, 1.0).astype(np.float32), rate, format="WAV", subtype="PCM_16"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{timezone.now().timestamp():.6f}.part")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)  # never leave a half-written file under the final name


def screening_sound_path(
    *, target: int | None, variant: int, design: HugginsDesign | None = None
) -> Path:
    """The cached WAV of one pool item (``target=None``: the calibration noise), made if missing.

    Pool items are seeded by (target, variant), so every server makes the same files.
    """
    design = design or screening_design()
    if not 0 <= variant < POOL_VARIANTS:
        raise ValueError(f"variant must be 0..{POOL_VARIANTS - 1}, got {variant}")
    name = "calibration" if target is None else f"t{target}"
    path = (
        Path(settings.MEDIA_ROOT)
        / "screening"
        / f"huggins-v{SCREENING_VERSION}-{_design_key(design)}-{name}-{variant}.wav"
    )
    if not path.is_file():
        rng = np.random.default_rng([SCREENING_VERSION, 0 if target is None else target, variant])
        signal = (
            calibration_noise(rng, design=design)
            if target is None
            else huggins_trial(rng, design=design, target=target)
        )
        _write_wav_atomic(path, signal, design.sample_rate)
    return path


# --- a participant's screening -------------------------------------------------------


class ScreeningRejected(ValueError):
    """A screening answer the server will not store; ``code`` tells the view how to reply."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        self.code = code
        super().__init__(message)


def _locked(participant: Participant) -> tuple[Participant, dict[str, Any]]:
    locked = Participant.objects.select_for_update().select_related("study").get(pk=participant.pk)
    return locked, screening_state(locked)


def screening_calibrated(*, participant: Participant, plays: int) -> Participant:
    """Record that the participant set their volume (idempotent)."""
    with transaction.atomic():
        locked, state = _locked(participant)
        if locked.screening_passed is None and state["calibration"] is None:
            state["calibration"] = {"at": timezone.now().isoformat(), "plays": int(plays)}
            locked.screening = state
            locked.save(update_fields=["screening"])
    participant.screening = locked.screening
    return participant


@dataclass(frozen=True)
class ScreeningAnswer:
    answer: int
    submission_key: str
    rt_ms: float | None = None
    events: tuple[dict[str, Any], ...] = ()


def screening_answer_record(
    *, participant: Participant, number: int, answer: ScreeningAnswer
) -> bool:
    """Store the answer to screening trial ``number``; returns True if it was new.

    The last answer scores the screen; failing ends the session as screened out.
    A repeated submission (same key) is accepted once; any other second answer is refused.
    """
    if answer.answer not in range(1, N_INTERVALS + 1):
        raise ScreeningRejected(f"answer must be 1, 2 or 3, got {answer.answer}")
    names = [e["event"] for e in answer.events]
    if "ended" not in names:
        raise ScreeningRejected("the sounds were not heard to the end", code="rules")
    if "replay" in names:
        raise ScreeningRejected("each sound check may be played only once", code="rules")
    with transaction.atomic():
        locked, state = _locked(participant)
        answers = state["answers"]
        if number <= len(answers):
            if answers[number - 1]["submission_key"] == answer.submission_key:
                return False
            raise ScreeningRejected("this sound check has already been answered", code="answered")
        if locked.status != Participant.Status.IN_PROGRESS or locked.screening_passed is not None:
            raise ScreeningRejected("this session is not taking screening answers", code="state")
        if state["calibration"] is None or number != len(answers) + 1 or number > state["n_trials"]:
            raise ScreeningRejected("sound checks must be answered in order", code="order")
        answers.append(
            {
                "trial": number,
                "answer": answer.answer,
                "correct": answer.answer == state["targets"][number - 1],
                "rt_ms": answer.rt_ms,
                "events": list(answer.events),
                "submission_key": answer.submission_key,
                "received_at": timezone.now().isoformat(),
            }
        )
        _score_if_finished(locked, state)
    participant.refresh_from_db()
    return True


def _score_if_finished(participant: Participant, state: dict[str, Any]) -> None:
    participant.screening = state
    fields = ["screening"]
    if len(state["answers"]) == state["n_trials"]:
        score = sum(1 for a in state["answers"] if a["correct"])
        participant.screening_score = score
        participant.screening_passed = score >= state["pass_threshold"]
        fields += ["screening_score", "screening_passed"]
        if not participant.screening_passed:
            participant.status = Participant.Status.SCREENED_OUT
            fields.append("status")
    participant.save(update_fields=fields)
