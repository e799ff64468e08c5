"""The registry of explanation methods, so bundles and studies name a method by string.

A method is a function ``(model, inputs, targets, params) -> (relevance, logits, targets)`` plus its
default parameters and a one-line description; the registry only stores them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

MethodFn = Callable[
    [torch.nn.Module, torch.Tensor, torch.Tensor | None, Mapping[str, Any]],
    tuple[torch.Tensor, torch.Tensor, torch.Tensor],
]


@dataclass(frozen=True)
class Method:
    """An explanation method registered under a stable name.

    Attributes
    ----------
    name : str
        Stable identifier written into bundles (``lrp-epsilon-plus-flat``).
    family : str
        ``"lrp"`` for layer-wise relevance propagation, ``"baseline"`` otherwise.
    description : str
        One sentence for researchers reading a manifest.
    defaults : dict
        Default parameters; :func:`resolve_params` merges overrides into them.
    fn : callable
        ``fn(model, inputs, targets, params) -> (relevance, logits, targets)``, relevance shaped like inputs.
    """

    name: str
    family: str
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    fn: MethodFn | None = None

    def resolve_params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults updated with ``overrides``; unknown keys are an error, not silently ignored."""
        params = dict(self.defaults)
        unknown = sorted(set(overrides or {}) - set(params))
        if unknown:
            raise ValueError(
                f"method {self.name!r} has no parameter(s) {', '.join(unknown)}; "
                f"it takes {', '.join(sorted(params)) or 'none'}"
            )
        params.update(overrides or {})
        return params


METHODS: dict[str, Method] = {}


def register_method(
    name: str, family: str, description: str, **defaults: Any
) -> Callable[[MethodFn], MethodFn]:
    """Decorator registering ``fn`` as method ``name`` with its default parameters."""

    def wrap(fn: MethodFn) -> MethodFn:
        if name in METHODS:
            raise ValueError(f"explanation method {name!r} is registered twice")
        METHODS[name] = Method(
            name=name, family=family, description=description, defaults=defaults, fn=fn
        )
        return fn

    return wrap


def get_method(name: str) -> Method:
    """The registered method called ``name``; ``ValueError`` naming the choices otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(
            f"unknown explanation method {name!r}; choose one of {', '.join(sorted(METHODS))}"
        ) from None
