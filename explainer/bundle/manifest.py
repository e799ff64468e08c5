"""Step 3 of a bundle: join the rendered chunks' records into the manifest.

The manifest holds no time stamps: the same plan gives a byte-identical manifest.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from typing import Any

from contracts import bundle_format as bf
from explainer.bundle.facts import heard_label_baseline
from explainer.errors import UserError
from explainer.faithfulness.provenance import faithfulness_record

GENERATOR_NAME = "hearxai-explainer"
# Optional per-stimulus fields (explainer.bundle.facts): known when planning, or rendering.
STIMULUS_PLAN_FACTS = ("model_id", "cue", "decision_basis", "degradation")
STIMULUS_RENDER_FACTS = ("relevance_in_cue", "label_audible", "faithfulness")


def assemble_manifest(spec: dict[str, Any], records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The manifest for ``spec`` from the rendered ``records`` of all its chunks (any order).

    Raises
    ------
    UserError
        If a stimulus has no record or more than one.
    """
    by_index: dict[int, dict[str, Any]] = {}
    for record in records:
        if record["index"] in by_index:
            raise UserError(f"stimulus {spec['stimuli'][record['index']]['id']} was rendered twice")
        by_index[record["index"]] = record
    missing = [s["id"] for i, s in enumerate(spec["stimuli"]) if i not in by_index]
    if missing:
        raise UserError(f"{len(missing)} stimuli were not rendered, e.g. {missing[0]}")
    stimuli = [_stimulus_entry(stim, by_index[i]) for i, stim in enumerate(spec["stimuli"])]
    extra = {key: spec[key] for key in ("models", "cue") if key in spec}
    return {
        "format": bf.BUNDLE_FORMAT,
        "format_version": bf.BUNDLE_VERSION,
        "generator": generator_record(),
        "model": spec["model"],
        "audio": audio_record(spec),
        "methods": methods_record(spec["methods"], spec["target"]),
        "selection": spec["selection"],
        "rendering": rendering_record(spec),
        **extra,
        "heard_label_baseline": heard_label_baseline(stimuli, len(spec["classes"])),
        "faithfulness": faithfulness_record(spec, stimuli),
        "stimuli": stimuli,
    }


def _stimulus_entry(stim: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": stim["id"],
        "source": {
            "recording": stim["recording"],
            "speaker": stim["speaker"],
            "take": stim["take"],
            "offset_samples": stim["offset_samples"],
        },
        "true_label": stim["true_label"],
        "predicted_label": stim["predicted_label"],
        "scores": stim["scores"],
        "correct": stim["correct"],
        "method": stim["method"],
        "practice": stim["practice"],
        "files": record["files"],
        "audio_checks": record["audio_checks"],
        "timeline": record["timeline"],
        **{key: stim[key] for key in STIMULUS_PLAN_FACTS if key in stim},
        **{key: record[key] for key in STIMULUS_RENDER_FACTS if key in record},
    }


def generator_record() -> dict[str, Any]:
    from importlib import metadata

    import explainer

    software = {"python": platform.python_version()}
    for package in (
        "torch",
        "zennit",
        "numpy",
        "scipy",
        "matplotlib",
        "pillow",
        "soundfile",
        "pyloudnorm",
    ):
        try:
            software[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {"name": GENERATOR_NAME, "version": explainer.__version__, "software": software}


def audio_record(spec: dict[str, Any]) -> dict[str, Any]:
    from explainer import audio_checks
    from explainer import preprocessing as pp

    render = spec["render"]
    return {
        "sample_rate": render["playback_rate"],
        # The contract's word for integrated loudness (BS.1770) is "lufs".
        "loudness_matching": {"bs1770": "lufs", "rms": "rms"}[
            audio_checks.planned_matching(render)
        ],
        "max_duration_s": pp.WINDOW / pp.SAMPLE_RATE,
        "channels": 1,
        "encoding": audio_checks.WAV_SUBTYPE,
        "model_sample_rate": pp.SAMPLE_RATE,
        "target_rms_dbfs": render["target_rms_dbfs"],
        "peak_ceiling_dbfs": render["peak_ceiling_dbfs"],
        "content": "the model's one-second input window: the clip at its offset, silence around it",
    }


def methods_record(methods: dict[str, dict[str, Any]], target: str) -> dict[str, Any]:
    from explainer.relevance import get_method

    out = {}
    for name, params in methods.items():
        spec = get_method(name)
        out[name] = {
            "params": params,
            "description": spec.description,
            "family": spec.family,
            "explained_class": target,
        }
    return out


def rendering_record(spec: dict[str, Any]) -> dict[str, Any]:
    from explainer import audible, audio_checks, heatmaps

    render = spec["render"]
    return {
        "visual": {
            "colormap": render["colormap"],
            "colormap_colours": list(heatmaps.COLORMAPS[render["colormap"]]),
            "colour_blind_safe": render["colormap"] == heatmaps.COLOR_BLIND_SAFE,
            "scale": "relevance divided by its largest absolute value in the image: colour bar -1..+1, centre = 0",
            "waveform": "each pixel column: the samples' range, coloured by the sum of their relevance",
            "spectrogram": "grey dB spectrogram (0 dB black, -80 dB white) with relevance colour laid over it, opacity sqrt(|relevance|)",
            "timeline": heatmaps.timeline(),
        },
        "plain_image": "the same picture without relevance (grey waveform or grey spectrogram with a dB bar)",
        "audible": audible.audible_params(spec["representation"], render["envelope_ms"]),
        "loudness_matching": audio_checks.planned_matching(render),
        "loudness": audio_checks.loudness_params(audio_checks.planned_matching(render)),
    }
