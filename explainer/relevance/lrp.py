"""LRP methods: each registered composite becomes an explanation method of the same name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from explainer.relevance.composites import LRP_COMPOSITES, build_composite
from explainer.relevance.gradients import seeded_backward
from explainer.relevance.registry import register_method

IMPLEMENTATIONS = ("fast", "zennit")


def _lrp_method(name: str) -> Any:
    def fn(
        model: torch.nn.Module,
        inputs: torch.Tensor,
        targets: torch.Tensor | None,
        params: Mapping[str, Any],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if params["implementation"] not in IMPLEMENTATIONS:
            raise ValueError(
                f"implementation must be one of {IMPLEMENTATIONS}, not {params['implementation']!r}"
            )
        rule_params = {k: v for k, v in params.items() if k != "implementation"}
        # A model declared at another rate (explainer.own_model.AtModelRate) reads its
        # front end's output: z-box bounds are those of what its first layer sees.
        seen = model.front_end(inputs) if hasattr(model, "front_end") else inputs
        composite = build_composite(
            name, rule_params, seen, fast=params["implementation"] == "fast"
        )
        with composite.context(model):
            return seeded_backward(model, inputs, targets, seed_with_logit=True)

    return fn


for _name, (_description, _defaults) in LRP_COMPOSITES.items():
    register_method(_name, "lrp", _description, implementation="fast", **_defaults)(
        _lrp_method(_name)
    )
