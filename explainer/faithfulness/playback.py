"""The audible heatmap played back to the model (L-MAC, Paissan et al., ICML 2024).

A participant hears the audible heatmap, so it matters whether that sound still carries
the model's decision. Each stimulus's audible-heatmap WAV, exactly as written to the
bundle (loudness-matched, 16-bit, at the playback rate), is brought back to the model's
8 kHz and fed to the model that made the decision; for the spectrogram model that WAV is
already the masked spectrogram turned back into audio
(:func:`explainer.audible.spectrogram_audible`). With ``p`` the explained class's
probability on the clip (the model's own window) and ``p_heard`` on the heatmap:

- ``decision_kept``: the decision (arg max) on the heatmap equals the one on the clip
  (L-MAC's "fidelity to input");
- ``avg_drop``: ``max(0, p - p_heard) / p`` (0 when ``p`` is 0);
- ``avg_increase``: 1 if ``p_heard > p``, else 0;
- ``avg_gain``: ``max(0, p_heard - p) / (1 - p)`` (0 when ``p`` is 1).

L-MAC reports these averaged over clips (in percent); a stimulus carries its own values
and :func:`playback_summary` averages them per method.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from explainer import audible
from explainer import preprocessing as pp


def lmac_quantities(
    p: np.ndarray, p_heard: np.ndarray, decided: np.ndarray, decided_heard: np.ndarray
) -> list[dict[str, Any]]:
    """L-MAC's per-clip quantities (see the module docstring), one dict per clip.

    Parameters
    ----------
    p, p_heard : numpy.ndarray
        ``(n,)`` explained class's probability on the clip and on its audible heatmap.
    decided, decided_heard : numpy.ndarray
        ``(n,)`` class index the model decides on each.
    """
    p, p_heard = np.asarray(p, dtype=np.float64), np.asarray(p_heard, dtype=np.float64)
    drop = np.divide(np.maximum(0.0, p - p_heard), p, out=np.zeros_like(p), where=p > 0)
    gain = np.divide(np.maximum(0.0, p_heard - p), 1.0 - p, out=np.zeros_like(p), where=p < 1)
    return [
        {
            "decision_kept": bool(d == h),
            "avg_drop": round(float(dr), 6),
            "avg_increase": int(ph > p0),
            "avg_gain": round(float(g), 6),
            "heard_probability": round(float(ph), 6),
        }
        for p0, ph, d, h, dr, g in zip(p, p_heard, decided, decided_heard, drop, gain, strict=True)
    ]


def decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    """``(n,)`` float64 samples and the rate (Hz) of mono WAV bytes."""
    import soundfile as sf

    samples, rate = sf.read(io.BytesIO(data), dtype="float64")
    return samples, int(rate)


def heard_window(wav: bytes) -> np.ndarray:
    """A bundle WAV as the model hears it: ``(8000,)`` at 8 kHz (resampled, cut or padded)."""
    samples, rate = decode_wav(wav)
    window = audible.resample(samples, rate, pp.SAMPLE_RATE)[: pp.WINDOW]
    return np.pad(window, (0, pp.WINDOW - window.shape[0]))


def play_back(
    run: Any, windows: Sequence[np.ndarray], heard_wavs: Sequence[bytes], targets: Sequence[int]
) -> list[dict[str, Any]]:
    """L-MAC's quantities for clips and their audible heatmaps, in one forward pass.

    Parameters
    ----------
    run
        The loaded run whose model made the decisions (:func:`explainer.training.load_run`).
    windows : sequence of numpy.ndarray
        ``(8000,)`` model windows at 8 kHz (the clip inside silence), as explained.
    heard_wavs : sequence of bytes
        The audible-heatmap WAV files of the same stimuli, at any rate.
    targets : sequence of int
        Index of each stimulus's explained class.

    Returns
    -------
    list of dict
        Per stimulus ``decision_kept``, ``avg_drop``, ``avg_increase``, ``avg_gain`` and
        ``heard_probability``.
    """
    import torch

    signals = [*windows, *(heard_window(w) for w in heard_wavs)]
    inputs = np.stack([pp.model_input(s, run.representation) for s in signals])
    with torch.no_grad():
        logits = run.model(torch.from_numpy(inputs.astype(np.float32)).unsqueeze(1))
    probs = torch.softmax(logits.double(), dim=1).numpy()
    clip, heard = probs[: len(windows)], probs[len(windows) :]
    rows = np.arange(len(windows))
    targets = np.asarray(targets)
    return lmac_quantities(
        clip[rows, targets], heard[rows, targets], clip.argmax(1), heard.argmax(1)
    )


def playback_provenance(representation: str, stimuli: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The manifest's ``faithfulness.playback``: what was fed back to the model, the
    quantities' definitions and their ``summary`` (:func:`playback_summary`)."""
    what = (
        "the audible heatmap (relevance x signal)"
        if representation == "waveform"
        else "the audible heatmap (the relevance-masked spectrogram turned back into audio)"
    )
    return {
        "fed": f"{what} WAV as written to the bundle (loudness-matched, 16-bit), "
        f"resampled to the model's {pp.SAMPLE_RATE} Hz",
        "compared_with": "the model's output on the clip's own window (the explained decision)",
        "after": "L-MAC, Paissan et al., ICML 2024",
        "quantities": {
            "decision_kept": "arg max on the heatmap equals arg max on the clip (fidelity to input)",
            "avg_drop": "max(0, p - p_heard) / p, p = explained class's probability on the clip",
            "avg_increase": "1 if p_heard > p else 0",
            "avg_gain": "max(0, p_heard - p) / (1 - p)",
            "heard_probability": "p_heard",
        },
        "summary": playback_summary(stimuli),
    }


def playback_summary(stimuli: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and method, over the main (non-practice) stimuli with playback values:
    ``n``, the share with the decision kept and the mean drop, increase and gain."""
    groups: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
    for stim in stimuli:
        values = stim.get("faithfulness", {})
        if not stim["practice"] and "decision_kept" in values:
            groups.setdefault((stim.get("model_id"), stim["method"]), []).append(values)
    rows = []
    for (model_id, method), values in groups.items():
        row: dict[str, Any] = {"method": method} | ({"model_id": model_id} if model_id else {})
        row["n"] = len(values)
        for key in ("decision_kept", "avg_drop", "avg_increase", "avg_gain"):
            row[key] = round(float(np.mean([float(v[key]) for v in values])), 6)
        rows.append(row)
    return rows


def summary_line(rows: Sequence[dict[str, Any]]) -> str:
    """The summary of :func:`playback_summary` as one line for the terminal."""
    parts = [
        f"{r['method']}{' (' + r['model_id'] + ')' if 'model_id' in r else ''}: "
        f"decision kept {r['decision_kept']:.0%}, AD {r['avg_drop']:.3f}, "
        f"AI {r['avg_increase']:.3f}, AG {r['avg_gain']:.3f} (n={r['n']})"
        for r in rows
    ]
    return "audible heatmap played back to the model (L-MAC): " + "; ".join(parts)
