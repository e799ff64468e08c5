"""LRP composites by name, built either from stock zennit rules or from the fast rules.

Both builds put the same rule on the same layer; ``tests/explainer/test_relevance_fast.py``
checks they give the same relevance. The fast build leaves activations without a hook
(see :mod:`explainer.relevance.fast_rules` for why that is exact).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from zennit import composites as zc
from zennit import rules as zr
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.core import Composite
from zennit.layer import Sum
from zennit.types import AvgPool

from explainer.relevance import fast_rules as fr

CONV = (nn.Conv1d, nn.Conv2d)
LINEAR = (nn.Conv1d, nn.Conv2d, nn.Linear)
# A researcher's model may have BatchNorm (merged into the layer before it, so the rules
# see one affine layer), residual sums and average pools (relevance split in proportion,
# zennit's Norm rule, as its stock composites do). AudioNet and AlexNet have none of them.
# explainer.relevance.applicability refuses models with layers outside these.


def _norm_rules() -> list[tuple[Any, Any]]:
    return [(Sum, zr.Norm()), (AvgPool, zr.Norm())]


def canonizers() -> list[Any]:
    """Fresh canonizers for one composite (they hold the merged layers while attached)."""
    return [SequentialMergeBatchNorm()]


# name -> (description, default parameters)
LRP_COMPOSITES: dict[str, tuple[str, dict[str, Any]]] = {
    "lrp-epsilon": (
        "LRP-epsilon on every convolutional and dense layer.",
        {"epsilon": 1e-6},
    ),
    "lrp-epsilon-plus-flat": (
        "LRP flat on the first layer, z+ on the other convolutions, epsilon on dense layers.",
        {"epsilon": 1e-6, "stabilizer": 1e-6},
    ),
    "lrp-epsilon-gamma-box": (
        "LRP z-box on the first convolution (bounds: each input's own minimum and maximum), "
        "gamma on the other convolutions, epsilon on dense layers.",
        {"epsilon": 1e-6, "gamma": 0.25, "stabilizer": 1e-6},
    ),
    "lrp-alpha2-beta1": (
        "LRP alpha=2 beta=1 on every convolution, epsilon on dense layers.",
        {"epsilon": 1e-6, "stabilizer": 1e-6},
    ),
}


def box_bounds(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample z-box bounds: each input's own minimum and maximum, shaped ``(B, 1, ...)``.

    Per-sample bounds keep an explanation independent of the other samples in the batch.
    """
    flat = inputs.detach().reshape(inputs.shape[0], -1)
    shape = (inputs.shape[0],) + (1,) * (inputs.ndim - 1)
    return flat.min(dim=1).values.reshape(shape), flat.max(dim=1).values.reshape(shape)


def build_composite(
    name: str, params: dict[str, Any], inputs: torch.Tensor, *, fast: bool = True
) -> Composite:
    """The composite registered as ``name`` with ``params``; ``inputs`` supplies z-box bounds.

    Parameters
    ----------
    name : str
        One of :data:`LRP_COMPOSITES`.
    params : dict
        Rule parameters (``epsilon``, ``stabilizer``, ``gamma``), see the defaults.
    inputs : torch.Tensor
        The batch to be explained, ``(B, 1, 8000)`` or ``(B, 1, 227, 227)``.
    fast : bool
        Fast rules (default) or stock zennit rules.
    """
    builders = _FAST if fast else _STOCK
    if name not in builders:
        raise ValueError(
            f"unknown LRP composite {name!r}; choose one of {', '.join(sorted(builders))}"
        )
    return builders[name](params, inputs)


def _stock_epsilon(p: dict[str, Any], x: torch.Tensor) -> Composite:
    return zc.LayerMapComposite(
        zc.layer_map_base() + [(LINEAR, zr.Epsilon(epsilon=p["epsilon"]))],
        canonizers=canonizers(),
    )


def _stock_plus_flat(p: dict[str, Any], x: torch.Tensor) -> Composite:
    return zc.EpsilonPlusFlat(
        epsilon=p["epsilon"], stabilizer=p["stabilizer"], canonizers=canonizers()
    )


def _stock_gamma_box(p: dict[str, Any], x: torch.Tensor) -> Composite:
    low, high = box_bounds(x)
    return zc.EpsilonGammaBox(
        low=low,
        high=high,
        epsilon=p["epsilon"],
        gamma=p["gamma"],
        stabilizer=p["stabilizer"],
        canonizers=canonizers(),
    )


def _stock_alpha_beta(p: dict[str, Any], x: torch.Tensor) -> Composite:
    return zc.EpsilonAlpha2Beta1(
        epsilon=p["epsilon"], stabilizer=p["stabilizer"], canonizers=canonizers()
    )


def _fast_epsilon(p: dict[str, Any], x: torch.Tensor) -> Composite:
    return zc.LayerMapComposite(
        _norm_rules() + [(LINEAR, fr.Epsilon(epsilon=p["epsilon"]))], canonizers=canonizers()
    )


def _fast_plus_flat(p: dict[str, Any], x: torch.Tensor) -> Composite:
    return zc.SpecialFirstLayerMapComposite(
        layer_map=_norm_rules()
        + [
            (CONV, fr.ZPlus(stabilizer=p["stabilizer"])),
            (nn.Linear, fr.Epsilon(epsilon=p["epsilon"])),
        ],
        first_map=[(LINEAR, fr.Flat(stabilizer=p["stabilizer"]))],
        canonizers=canonizers(),
    )


def _fast_gamma_box(p: dict[str, Any], x: torch.Tensor) -> Composite:
    low, high = box_bounds(x)
    return zc.SpecialFirstLayerMapComposite(
        layer_map=_norm_rules()
        + [
            (CONV, fr.Gamma(gamma=p["gamma"], stabilizer=p["stabilizer"])),
            (nn.Linear, fr.Epsilon(epsilon=p["epsilon"])),
        ],
        first_map=[(CONV, fr.ZBox(low=low, high=high, stabilizer=p["stabilizer"]))],
        canonizers=canonizers(),
    )


def _fast_alpha_beta(p: dict[str, Any], x: torch.Tensor) -> Composite:
    return zc.LayerMapComposite(
        _norm_rules()
        + [
            (CONV, fr.AlphaBeta(alpha=2.0, beta=1.0, stabilizer=p["stabilizer"])),
            (nn.Linear, fr.Epsilon(epsilon=p["epsilon"])),
        ],
        canonizers=canonizers(),
    )


Builder = Callable[[dict[str, Any], torch.Tensor], Composite]
_STOCK: dict[str, Builder] = {
    "lrp-epsilon": _stock_epsilon,
    "lrp-epsilon-plus-flat": _stock_plus_flat,
    "lrp-epsilon-gamma-box": _stock_gamma_box,
    "lrp-alpha2-beta1": _stock_alpha_beta,
}
_FAST: dict[str, Builder] = {
    "lrp-epsilon": _fast_epsilon,
    "lrp-epsilon-plus-flat": _fast_plus_flat,
    "lrp-epsilon-gamma-box": _fast_gamma_box,
    "lrp-alpha2-beta1": _fast_alpha_beta,
}
