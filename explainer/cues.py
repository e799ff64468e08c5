"""Planted cues: short audible sounds added to clips, so a model can learn a shortcut.

After Lapuschkin et al. ("Unmasking Clever Hans predictors", 2019) and Adebayo et al.
(ICLR 2022): a cue tied to a class is added to the training clips of that class; a
model trained on them (the *cued* model) may decide by the cue instead of the spoken
digit, and that is known from how the model was built. One :class:`CueSpec` describes
the cue of every cued class; each class gets its own frequency (tone, noise band) or
click rate (click train), so cue-conflict clips (digit A spoken, cue of class B) are
unambiguous.

Times are seconds within the clip (not the model's one-second window); levels are dB
of the cue's RMS relative to the clip's RMS.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from explainer import preprocessing as pp
from explainer.errors import UserError

KINDS = ("tone", "clicks", "noise")
POSITIONS = ("start", "end", "random")
# Below this level relative to the clip a cue is masked by the speech (and by the 16-bit
# floor of quiet clips): it would not be a cue a listener or a model can pick up.
MIN_LEVEL_DB = -30.0
MAX_LEVEL_DB = 12.0
RAMP_S = 0.005  # raised-cosine on/off ramps: no click at the cue's edges (except clicks)
CLICK_S = 0.001  # length of one click of a click train


@dataclass(frozen=True)
class CueSpec:
    """The planted cue, as recorded in ``cue.json`` and the bundle's top-level ``cue``.

    Attributes
    ----------
    kind : str
        ``tone`` (a tone burst), ``clicks`` (a click train) or ``noise`` (a noise band).
    classes : dict of str to float
        Cued class label -> frequency in Hz (tone frequency, click rate, or the noise
        band's centre).
    level_db : float
        Cue RMS relative to the clip's RMS, dB.
    duration_s : float
        Cue length, seconds.
    position : str or float
        ``start``, ``end``, ``random`` (uniform within the clip, seeded) or a fixed
        onset in seconds from the clip's start.
    bandwidth_hz : float
        Width of the noise band (``noise`` only), Hz.
    """

    kind: str
    classes: dict[str, float]
    level_db: float = -6.0
    duration_s: float = 0.08
    position: str | float = "start"
    bandwidth_hz: float = 400.0

    def __post_init__(self) -> None:
        nyquist = pp.SAMPLE_RATE / 2
        if self.kind not in KINDS:
            raise UserError(f"--kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not MIN_LEVEL_DB <= self.level_db <= MAX_LEVEL_DB:
            raise UserError(
                f"--level-db {self.level_db:g} is outside {MIN_LEVEL_DB:g}..{MAX_LEVEL_DB:g} dB "
                "relative to the clip (below that the cue is inaudible under the speech)"
            )
        if not 0.005 <= self.duration_s <= 0.5:
            raise UserError(
                f"--duration-ms must be within 5..500 ms, got {self.duration_s * 1000:g}"
            )
        if isinstance(self.position, str) and self.position not in POSITIONS:
            raise UserError(
                f"--position must be start, end, random or seconds, got {self.position!r}"
            )
        if not isinstance(self.position, str) and self.position < 0:
            raise UserError(f"--position must be >= 0 s, got {self.position:g}")
        for label, freq in self.classes.items():
            low, high = self.band(label)
            if self.kind == "clicks" and not 20 <= freq <= 1000:
                raise UserError(
                    f"--freq-hz for clicks is a click rate within 20..1000 Hz, got {freq:g}"
                )
            if self.kind != "clicks" and not (50 <= low and high < nyquist):
                raise UserError(
                    f"--freq-hz {freq:g} (class {label}): the cue's band {low:g}..{high:g} Hz must lie "
                    f"within 50..{nyquist:g} Hz (the models hear 8 kHz audio)"
                )

    def band(self, label: str) -> tuple[float, float]:
        """The cue's frequency band for ``label``, Hz (where its energy is)."""
        freq = self.classes[label]
        if self.kind == "noise":
            return freq - self.bandwidth_hz / 2, freq + self.bandwidth_hz / 2
        if self.kind == "tone":  # a windowed tone spreads by about 2 / duration
            return freq - 2 / self.duration_s, freq + 2 / self.duration_s
        return 0.0, pp.SAMPLE_RATE / 2  # clicks are broadband

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["level_reference"] = "dB of cue RMS relative to the clip's RMS"
        data["bands_hz"] = {label: list(self.band(label)) for label in self.classes}
        return data


def cue_signal(spec: CueSpec, label: str, rng: np.random.Generator) -> np.ndarray:
    """The cue of class ``label`` at unit RMS.

    Returns
    -------
    numpy.ndarray
        Shape ``(round(duration_s * 8000),)`` float64, RMS 1.
    """
    n = int(round(spec.duration_s * pp.SAMPLE_RATE))
    t = np.arange(n) / pp.SAMPLE_RATE
    freq = spec.classes[label]
    if spec.kind == "tone":
        signal = np.sin(2 * np.pi * freq * t) * _ramps(n)
    elif spec.kind == "clicks":
        signal = np.zeros(n)
        width = max(1, int(CLICK_S * pp.SAMPLE_RATE))
        for start in np.arange(0, n, pp.SAMPLE_RATE / freq).astype(int):
            signal[start : start + width] = 1.0
    else:
        low, high = spec.band(label)
        spectrum = np.fft.rfft(rng.standard_normal(n))
        bins = np.fft.rfftfreq(n, 1 / pp.SAMPLE_RATE)
        spectrum[(bins < low) | (bins > high)] = 0
        signal = np.fft.irfft(spectrum, n) * _ramps(n)
    return signal / np.sqrt(np.mean(signal**2))


def _ramps(n: int) -> np.ndarray:
    ramp = min(int(RAMP_S * pp.SAMPLE_RATE), n // 2)
    envelope = np.ones(n)
    rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
    envelope[:ramp], envelope[n - ramp :] = rise, rise[::-1]
    return envelope


def cue_onset(spec: CueSpec, clip_s: float, rng: np.random.Generator) -> float:
    """Where the cue starts in a clip of ``clip_s`` seconds (seconds from its start).

    Raises
    ------
    UserError
        If the cue does not fit inside the clip at the requested position.
    """
    room = clip_s - spec.duration_s
    if room < 0:
        raise UserError(
            f"--duration-ms {spec.duration_s * 1000:g} is longer than a {clip_s:.3f} s clip: "
            "the cue must lie inside the clip"
        )
    if spec.position == "start":
        return 0.0
    if spec.position == "end":
        return room
    if spec.position == "random":
        return float(rng.uniform(0, room))
    if float(spec.position) > room:
        raise UserError(
            f"--position {float(spec.position):g} s puts the cue outside a {clip_s:.3f} s clip "
            f"(latest onset {room:.3f} s)"
        )
    return float(spec.position)


def add_cue(
    clip: np.ndarray, spec: CueSpec, label: str, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    """``clip`` with the cue of class ``label`` added, and where it is.

    Parameters
    ----------
    clip
        Shape ``(n,)`` float, 8 kHz.

    Returns
    -------
    audio : numpy.ndarray
        Shape ``(n,)`` float64; scaled down as a whole if the sum would clip.
    where : dict
        ``{"present": True, "class", "start_s", "end_s", "low_hz", "high_hz"}`` (clip time).
    """
    clip = np.asarray(clip, dtype=np.float64)
    onset = cue_onset(spec, clip.shape[0] / pp.SAMPLE_RATE, rng)
    cue = cue_signal(spec, label, rng)
    clip_rms = float(np.sqrt(np.mean(clip**2)))
    start = int(round(onset * pp.SAMPLE_RATE))
    audio = clip.copy()
    audio[start : start + cue.shape[0]] += cue * clip_rms * 10 ** (spec.level_db / 20)
    peak = float(np.max(np.abs(audio)))
    if peak > 0.99:  # keep the whole clip's balance rather than clip the cue's peaks
        audio *= 0.99 / peak
    low, high = spec.band(label)
    where = {
        "present": True,
        "class": label,
        "start_s": round(start / pp.SAMPLE_RATE, 6),
        "end_s": round((start + cue.shape[0]) / pp.SAMPLE_RATE, 6),
        "low_hz": round(low, 3),
        "high_hz": round(high, 3),
    }
    return audio, where
