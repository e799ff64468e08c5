"""The manifest's faithfulness fields are optional additions to bundle v1."""

from __future__ import annotations

import copy
from pathlib import Path

from contracts import bundle_format as bf

DELETION = {
    "region": "waveform segment",
    "region_ms": 10.0,
    "step_share": 0.1,
    "max_share": 0.5,
    "replacement": "zero",
    "seed": 0,
}


def test_a_bundle_without_faithfulness_fields_still_validates(synthetic_bundle_dir: Path) -> None:
    manifest = bf.read_manifest(synthetic_bundle_dir)
    assert "faithfulness" not in manifest and all(
        "faithfulness" not in s for s in manifest["stimuli"]
    )
    assert bf.validate_manifest(manifest) == []


def test_deletion_fields_validate_and_malformed_ones_are_named(synthetic_bundle_dir: Path) -> None:
    manifest = copy.deepcopy(bf.read_manifest(synthetic_bundle_dir))
    manifest["faithfulness"] = {
        "deletion": DELETION,
        "sanity": {
            "lrp-epsilon-plus-flat": {
                "randomisation": [{"layer": "classifier.7", "spearman": 0.1}],
                "flagged": False,
                "reason": "falls",
            }
        },
    }
    for stim in manifest["stimuli"]:
        stim["faithfulness"] = {"deletion_aopc": 0.3, "random_aopc": 0.1}
    assert bf.validate_manifest(manifest) == []
    manifest["stimuli"][0]["faithfulness"]["deletion_aopc"] = "high"
    manifest["faithfulness"]["deletion"]["replacement"] = "blur"
    problems = " ".join(bf.validate_manifest(manifest))
    assert "deletion_aopc" in problems and "replacement" in problems
