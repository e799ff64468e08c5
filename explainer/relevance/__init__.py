"""Relevance: explanation methods registered by name, and one entry point, :func:`explain`.

>>> from explainer.relevance import explain
>>> result = explain(model, batch, "lrp-epsilon-plus-flat")   # doctest: +SKIP
>>> result.relevance.shape == batch.shape                       # doctest: +SKIP

LRP composites (``lrp-*``) come from :mod:`explainer.relevance.composites`; the
baselines (``gradient``, ``gradient-x-input``, ``integrated-gradients``, ``smoothgrad``,
``occlusion``) from :mod:`explainer.relevance.baselines`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from explainer.relevance import baselines as _baselines  # noqa: F401  (registers methods)
from explainer.relevance import lrp as _lrp  # noqa: F401  (registers methods)
from explainer.relevance.applicability import method_refusal
from explainer.relevance.gradients import explaining
from explainer.relevance.registry import METHODS, Method, get_method

__all__ = [
    "METHODS",
    "Explanation",
    "Method",
    "explain",
    "get_method",
    "method_names",
    "method_refusal",
]


@dataclass(frozen=True)
class Explanation:
    """Relevance for one batch.

    Attributes
    ----------
    relevance : torch.Tensor
        Same shape as the inputs: ``(B, 1, 8000)`` samples or ``(B, 1, 227, 227)`` bins.
    logits : torch.Tensor
        ``(B, n_classes)`` model output for the unmodified inputs.
    targets : torch.Tensor
        ``(B,)`` index of the class each row explains.
    method : str
        Registered method name.
    params : dict
        The method's full parameters (defaults merged with overrides).
    """

    relevance: torch.Tensor
    logits: torch.Tensor
    targets: torch.Tensor
    method: str
    params: dict[str, Any]


def method_names(family: str | None = None) -> list[str]:
    """Registered method names, optionally only one family (``"lrp"`` or ``"baseline"``)."""
    return sorted(name for name, m in METHODS.items() if family in (None, m.family))


def explain(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    method: str,
    *,
    targets: torch.Tensor | None = None,
    params: Mapping[str, Any] | None = None,
) -> Explanation:
    """Explain a batch with a registered method.

    Parameters
    ----------
    model : torch.nn.Module
        AudioNet or AlexNet returning logits; put in eval mode with frozen weights for the
        call and restored afterwards.
    inputs : torch.Tensor
        ``(B, 1, 8000)`` waveform or ``(B, 1, 227, 227)`` spectrogram batch.
    method : str
        Registered name, see :func:`method_names`.
    targets : torch.Tensor, optional
        ``(B,)`` classes to explain; default: each input's predicted class.
    params : mapping, optional
        Overrides of the method's default parameters (unknown keys are an error).

    Returns
    -------
    Explanation
    """
    spec = get_method(method)
    resolved = spec.resolve_params(params)
    reason = method_refusal(model, spec.family)
    if reason is not None:
        raise ValueError(f"method {method!r} cannot explain this model: {reason}")
    if targets is not None:
        targets = torch.as_tensor(targets, dtype=torch.long).reshape(-1)
        if targets.shape[0] != inputs.shape[0]:
            raise ValueError(f"{targets.shape[0]} targets for a batch of {inputs.shape[0]}")
    with explaining(model):
        relevance, logits, targets = spec.fn(model, inputs, targets, resolved)
    return Explanation(relevance.detach(), logits, targets, method, resolved)
