"""A participant's headphone screening record, and the design and plan it follows.

The stimuli and the storing of answers live in ``services.screening``; what is read
here is what a page or the participant's next step needs to know.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from django.conf import settings

from studyapp.models import Participant

SCREENING_METHOD = "huggins-pitch"
SCREENING_VERSION = 1
N_INTERVALS = 3
POOL_VARIANTS = 4


@dataclass(frozen=True)
class HugginsDesign:
    """Stimulus parameters (defaults follow Milne et al., 2021).

    Tests may shorten the durations through the optional Django setting
    ``HEARXAI_SCREENING`` (a dict of field overrides), to keep browser runs short.
    """

    sample_rate: int = 44_100  # Hz
    interval_s: float = 1.0  # duration of each noise interval
    gap_s: float = 0.5  # silence between intervals
    ramp_s: float = 0.02  # raised-cosine on/off ramps, avoid clicks
    centre_hz: float = 600.0  # centre of the phase-inverted band
    band_fraction: float = 0.06  # band edges at centre * (1 -/+ fraction)
    rms: float = 0.05  # noise level before the participant's volume (about -26 dBFS)
    calibration_s: float = 2.0  # duration of the calibration noise

    @property
    def total_s(self) -> float:
        return N_INTERVALS * self.interval_s + (N_INTERVALS - 1) * self.gap_s

    def interval_bounds_s(self) -> list[tuple[float, float]]:
        """(start, end) of each interval in seconds, for the page's interval highlight."""
        step = self.interval_s + self.gap_s
        return [(i * step, i * step + self.interval_s) for i in range(N_INTERVALS)]


def screening_design() -> HugginsDesign:
    overrides = getattr(settings, "HEARXAI_SCREENING", None) or {}
    return replace(HugginsDesign(), **overrides)


def screening_plan(*, seed: int, n_trials: int) -> dict[str, list[int]]:
    """Target interval (1..3) and pool variant of each trial, from the participant's seed."""
    rng = np.random.default_rng([seed, 0x5C4EE7])
    return {
        "targets": [int(t) for t in rng.integers(1, N_INTERVALS + 1, size=n_trials)],
        "variants": [int(v) for v in rng.integers(0, POOL_VARIANTS, size=n_trials)],
    }


def screening_state_new(*, participant: Participant) -> dict[str, Any]:
    """The screening record a participant starts with (nothing answered yet)."""
    study = participant.study
    design = screening_design()
    return {
        "method": SCREENING_METHOD,
        "version": SCREENING_VERSION,
        "design": asdict(design),
        "n_trials": study.screen_trials,
        "pass_threshold": study.screen_pass_threshold,
        **screening_plan(seed=participant.seed, n_trials=study.screen_trials),
        "calibration": None,
        "answers": [],
    }


def screening_state(participant: Participant) -> dict[str, Any]:
    """The participant's screening record, or a fresh one (not saved) if they have none."""
    if participant.screening.get("method") == SCREENING_METHOD:
        return participant.screening
    return screening_state_new(participant=participant)


def screening_next_trial(participant: Participant) -> int | None:
    """1-based number of the next screening trial, or None when all are answered."""
    state = screening_state(participant)
    done = len(state["answers"])
    return done + 1 if done < state["n_trials"] else None
