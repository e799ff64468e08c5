"""How a perturbation experiment is run: regions, steps, replacement and seed, recorded with its output."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from explainer.errors import UserError
from explainer.faithfulness.curves import Steps
from explainer.faithfulness.regions import SEGMENT_MS, RegionMap, region_map
from explainer.faithfulness.replacement import REPLACEMENTS


@dataclass(frozen=True)
class Settings:
    """One perturbation experiment's parameters (validated on construction)."""

    steps: Steps
    replacement: str = "zero"
    seed: int = 0
    segment_ms: float = SEGMENT_MS

    def __post_init__(self) -> None:
        if self.replacement not in REPLACEMENTS:
            raise UserError(
                f"--replacement {self.replacement!r}: choose one of {', '.join(REPLACEMENTS)}"
            )

    def regions(self, representation: str) -> RegionMap:
        return region_map(representation, segment_ms=self.segment_ms)

    def record(self, representation: str) -> dict[str, Any]:
        """Provenance: ``region``, ``region_ms`` or ``patch``, ``step_share``, ``max_share``, ``replacement``, ``seed``."""
        return {
            **self.regions(representation).record,
            "step_share": self.steps.step_share,
            "max_share": self.steps.max_share,
            "replacement": self.replacement,
            "seed": self.seed,
        }


def clip_rng(seed: int, key: str, stream: int) -> np.random.Generator:
    """A clip's own generator (stream 0: random order, 1: replacement noise), from its key.

    Keyed by the recording, not the clip's position, so a clip gets the same random order
    in every experiment, bundle chunk and worker.
    """
    digest = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([seed, digest, stream])
