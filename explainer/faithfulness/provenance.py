"""The manifest's top-level ``faithfulness`` record: how each per-stimulus number was computed."""

from __future__ import annotations

from typing import Any

from explainer.faithfulness.playback import playback_provenance
from explainer.faithfulness.stimulus import deletion_record


def faithfulness_record(spec: dict[str, Any], stimuli: list[dict[str, Any]]) -> dict[str, Any]:
    """``deletion`` and ``playback`` (always), and ``sanity`` when the plan asked for the
    randomisation check."""
    record: dict[str, Any] = {
        "deletion": deletion_record(spec),
        "playback": playback_provenance(spec["representation"], stimuli),
    }
    if "faithfulness_sanity" in spec:
        record["sanity"] = spec["faithfulness_sanity"]
    return record
