"""What is known about each stimulus beyond the model's decision, for informative studies.

- From the corpus: a planted cue (``cue.json`` of ``python -m explainer cue``) gives each
  stimulus its ``cue`` (in the model's window, seconds) and ``decision_basis``; a noisy
  copy (``degradation.json`` of ``python -m explainer degrade``) its ``degradation``.
- From the selected stimuli: the bundle's ``heard_label_baseline`` per task, the
  accuracy a participant reaches by answering the spoken digit without any explanation.
- From the rendered audible heatmap: ``label_audible``, whether a recogniser model still
  hears the spoken digit in it (:func:`label_audible`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from explainer.cue_corpus import CUE_FILE
from explainer.cue_reliance import decision_basis, window_cue
from explainer.errors import UserError
from explainer.noisy_corpus import DEGRADATION_FILE


def corpus_facts(data_root: Path) -> dict[str, Any]:
    """The corpus's ``cue.json`` and ``degradation.json`` (empty dicts when absent)."""
    facts = {}
    for key, name in (("cue", CUE_FILE), ("degradation", DEGRADATION_FILE)):
        path = Path(data_root) / name
        try:
            facts[key] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{path}: cannot read ({exc})") from None
    return facts


def add_clip_facts(stimuli: list[dict[str, Any]], facts: dict[str, Any]) -> None:
    """Give each planned stimulus its ``cue``/``decision_basis`` and ``degradation``, in place."""
    cues = facts["cue"].get("clips") if facts["cue"] else None
    noisy = facts["degradation"].get("clips", {}) if facts["degradation"] else {}
    for stim in stimuli:
        if cues is not None:
            clip = cues.get(stim["recording"])
            if clip is None:
                stim["cue"] = {"present": False, "class": None}
            else:
                stim["cue"] = window_cue(
                    {
                        k: clip[k]
                        for k in ("present", "class", "start_s", "end_s", "low_hz", "high_hz")
                    },
                    stim["offset_samples"],
                )
                stim["cue"]["role"] = clip["role"]
            stim["decision_basis"] = decision_basis(
                stim["true_label"], stim["predicted_label"], stim["cue"]["class"]
            )
        if stim["recording"] in noisy:
            stim["degradation"] = {
                "noise": facts["degradation"]["noise"],
                "snr_db": noisy[stim["recording"]]["snr_db"],
                "seed": facts["degradation"]["seed"],
            }


def heard_label_baseline(stimuli: list[dict[str, Any]], n_classes: int) -> dict[str, Any]:
    """Per task, the accuracy of answering the spoken digit without the explanation.

    Counted once per decision (recording and model) of the main, non-practice stimuli.
    ``explanation_only`` counts what the explanation lets through: where the label is
    audible in the audible heatmap the participant answers it (right when the model was
    right), elsewhere guesses (1 / classes); it is None without ``label_audible``.
    """
    decisions: dict[tuple[str, str], dict[str, Any]] = {}
    for stim in stimuli:
        if not stim["practice"]:
            decisions.setdefault((stim["source"]["recording"], stim.get("model_id", "")), stim)
    rows = list(decisions.values())
    if not rows:
        return {}
    forward = float(np.mean([s["correct"] for s in rows]))
    result = {
        "forward_simulation": {
            "value": round(forward, 6),
            "how": f"share of the {len(rows)} main decisions that are correct: answering the spoken digit predicts the model exactly then",
        },
        "verification": {
            "value": 1.0,
            "how": "answering 'right' exactly when the shown decision is the spoken digit is always correct",
        },
    }
    audible = [s for s in stimuli if not s["practice"] and "label_audible" in s]
    if audible:
        hits = [
            (1.0 if s["correct"] else 0.0) if s["label_audible"]["value"] else 1 / n_classes
            for s in audible
        ]
        result["explanation_only"] = {
            "value": round(float(np.mean(hits)), 6),
            "how": f"over {len(audible)} audible heatmaps: where label_audible, answering the heard digit (right when the model was right); elsewhere a guess (1/{n_classes})",
        }
    return result


def label_audible(recogniser: Any, heard: np.ndarray, true_label: str, role: str) -> dict[str, Any]:
    """Whether ``recogniser`` decides the spoken digit from the audible heatmap ``heard``.

    Parameters
    ----------
    recogniser
        A loaded run (:func:`explainer.training.load_run`).
    heard
        The audible heatmap in the model's window, ``(8000,)`` at 8 kHz, before loudness
        matching (the recogniser's own input normalisation removes the level).
    """
    import torch

    from explainer import preprocessing as pp

    inputs = pp.model_input(np.asarray(heard, dtype=np.float32), recogniser.representation)
    with torch.no_grad():
        logits = recogniser.model(torch.from_numpy(inputs[None, None].astype(np.float32)))
    decided = recogniser.classes[int(logits.argmax())]
    return {
        "value": decided == true_label,
        "how": f"the {role} model ({recogniser.architecture}, weights {recogniser.weights_sha256[:12]}) "
        f"decides {decided} from the audible heatmap; the spoken digit is {true_label}",
    }
