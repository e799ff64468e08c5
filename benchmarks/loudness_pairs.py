"""Measurement: how loud each audible heatmap is next to its original, in a written bundle.

python benchmarks/loudness_pairs.py BUNDLE_DIR [BUNDLE_DIR ...] [--quick]

For every stimulus, both WAVs are measured by sox (``sox F -n stat``: RMS and peak
amplitude, hence the crest factor) and by pyloudnorm (ITU-R BS.1770-4 integrated
loudness, LUFS). Prints one JSON object keyed by bundle: the bundle's loudness matching,
the number of pairs, and over pairs the mean, the largest absolute and the 5th/95th
percentiles of audible minus original in LUFS, in RMS dB and in crest factor dB, plus the
pairs limited by headroom and those whose BS.1770 matching fell back to RMS.
``--quick`` measures the first 20 stimuli of each bundle. This is the check behind the
default of ``explainer bundle --loudness`` (docs/faithfulness.md, "Loudness matching").
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
QUICK_PAIRS = 20


def sox_stat(path: Path) -> dict[str, float]:
    """RMS and peak amplitude (full scale 1) of a WAV by ``sox F -n stat``."""
    text = subprocess.run(
        ["sox", str(path), "-n", "stat"], capture_output=True, text=True, check=True
    ).stderr
    value = {
        key: float(re.search(rf"^{key}\s+amplitude:\s+(\S+)", text, re.M).group(1))
        for key in ("Maximum", "Minimum", "RMS")
    }
    return {"rms": value["RMS"], "peak": max(value["Maximum"], -value["Minimum"])}


def pair_levels(bundle: Path, stim: dict[str, Any]) -> dict[str, float]:
    """Audible minus original: LUFS, RMS dB and crest factor dB."""
    sys.path.insert(0, str(ROOT))
    from explainer.audio_checks import integrated_loudness

    levels = []
    for role in ("original_audio", "audible_heatmap"):
        path = bundle / stim["files"][role]["path"]
        stat = sox_stat(path)
        samples, rate = sf.read(path, dtype="float64")
        rms_db = 20 * np.log10(stat["rms"])
        crest_db = 20 * np.log10(stat["peak"] / stat["rms"])
        levels.append((integrated_loudness(samples, rate), rms_db, crest_db))
    (lo, ro, co), (la, ra, ca) = levels
    lufs = float("nan") if lo is None or la is None else la - lo
    return {"lufs": lufs, "rms_db": ra - ro, "crest_db": ca - co}


def describe(values: list[float]) -> dict[str, float]:
    v = np.asarray([x for x in values if np.isfinite(x)])
    return {
        "mean": round(float(v.mean()), 3),
        "max_abs": round(float(np.abs(v).max()), 3),
        "p5": round(float(np.percentile(v, 5)), 3),
        "p95": round(float(np.percentile(v, 95)), 3),
    }


def measure(bundle: Path, limit: int | None) -> dict[str, Any]:
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    stimuli = manifest["stimuli"][:limit]
    pairs = [pair_levels(bundle, s) for s in stimuli]
    loudness = [s["audio_checks"]["loudness"] for s in stimuli]
    return {
        "loudness_matching": manifest.get("rendering", {}).get("loudness_matching", "rms"),
        "model": manifest["model"]["architecture"],
        "pairs": len(pairs),
        **{key: describe([p[key] for p in pairs]) for key in ("lufs", "rms_db", "crest_db")},
        "limited_by_headroom": sum(r["limited_by_headroom"] for r in loudness),
        "fell_back_to_rms": sum("fallback" in r for r in loudness),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", type=Path)
    parser.add_argument("--quick", action="store_true", help=f"first {QUICK_PAIRS} stimuli only")
    args = parser.parse_args()
    limit = QUICK_PAIRS if args.quick else None
    result = {}
    for bundle in args.bundles:
        print(f"measuring {bundle}", file=sys.stderr)
        result[bundle.name] = measure(bundle, limit)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
