"""The manifest's top-level ``faithfulness`` record: how each per-stimulus number was computed."""

from __future__ import annotations

from typing import Any

from explainer.faithfulness.stimulus import deletion_record


def faithfulness_record(spec: dict[str, Any]) -> dict[str, Any]:
    """``deletion`` (always), and ``sanity`` when the plan asked for the randomisation check."""
    record: dict[str, Any] = {"deletion": deletion_record(spec)}
    if "faithfulness_sanity" in spec:
        record["sanity"] = spec["faithfulness_sanity"]
    return record
