"""Draw docs/figures/huggins-pitch.png: what the headphone screen's stimulus is made of.

Run ``.venv/bin/python docs/figures/huggins_pitch.py``. The stimulus comes from
``studyapp.services.screening`` (the code the site serves), with seed 0.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")

import django  # noqa: E402

django.setup()

from studyapp.selectors.screening import HugginsDesign  # noqa: E402
from studyapp.services.screening import huggins_interval, huggins_trial  # noqa: E402


def smoothed(values: np.ndarray, width: int = 9) -> np.ndarray:
    return np.convolve(values, np.ones(width) / width, mode="same")


def main() -> Path:
    design = HugginsDesign()
    rng = np.random.default_rng(0)
    trial = huggins_trial(rng, design=design, target=2)
    target = huggins_interval(np.random.default_rng(1), design=design, dichotic=True)
    n = len(target)
    freqs = np.fft.rfftfreq(n, 1 / design.sample_rate)
    left, right = np.fft.rfft(target[:, 0]), np.fft.rfft(target[:, 1])
    view = (freqs > 300) & (freqs < 900)

    fig, axes = plt.subplots(3, 1, figsize=(8, 8), constrained_layout=True)
    t = np.arange(len(trial)) / design.sample_rate
    axes[0].plot(t, trial[:, 0], lw=0.3, color="#1f4e79", label="left ear")
    axes[0].plot(t, trial[:, 1] - 0.5, lw=0.3, color="#9c2a00", label="right ear (offset)")
    for number, (start, end) in enumerate(design.interval_bounds_s(), start=1):
        axes[0].text(
            (start + end) / 2,
            -0.85,
            f"noise {number}" + (" (tone)" if number == 2 else ""),
            ha="center",
        )
    axes[0].set(
        xlabel="time (s)",
        yticks=[],
        ylim=(-1.0, 0.3),
        title="One sound check: three noise intervals; the tone is in interval 2",
    )
    legend = axes[0].legend(loc="upper right", fontsize=8, ncols=2)
    for line in legend.get_lines():
        line.set_linewidth(2)

    phase = np.angle(left * np.conj(right), deg=True)
    axes[1].plot(freqs[view], np.abs(phase[view]), lw=0.8, color="#333")
    axes[1].axvspan(
        design.centre_hz * (1 - design.band_fraction),
        design.centre_hz * (1 + design.band_fraction),
        color="#f5c26b",
        alpha=0.5,
        label="600 Hz +/- 6 %",
    )
    axes[1].set(
        xlabel="frequency (Hz)",
        ylabel="|interaural phase| (deg)",
        ylim=(-10, 190),
        title="Target interval: the ears differ only by a 180 degree phase flip in a narrow band",
    )
    axes[1].legend(loc="upper right", fontsize=8)

    db = lambda x: 10 * np.log10(smoothed(np.abs(x) ** 2) + 1e-12)  # noqa: E731
    axes[2].plot(freqs[view], db(left[view]), lw=0.8, label="left ear alone", color="#1f4e79")
    axes[2].plot(
        freqs[view],
        db(right[view]) - 0.5,
        lw=0.8,
        label="right ear alone",
        color="#9c2a00",
        ls="--",
    )
    axes[2].plot(
        freqs[view],
        db((left + right)[view]),
        lw=0.8,
        label="both mixed (loudspeakers)",
        color="#2e7d32",
    )
    axes[2].set(
        xlabel="frequency (Hz)",
        ylabel="power (dB, smoothed)",
        title="No cue in either ear alone; mixed in the air, the band cancels",
    )
    axes[2].legend(loc="lower left", fontsize=8)

    out = ROOT / "docs" / "figures" / "huggins-pitch.png"
    fig.savefig(out, dpi=110)
    return out


if __name__ == "__main__":
    print(main())
