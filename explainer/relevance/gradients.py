"""Shared plumbing: evaluation mode, frozen weights, and one seeded backward pass."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def explaining(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Put ``model`` in eval mode (dropout off) with frozen weights; restore both afterwards.

    Frozen weights mean no backward pass ever spends time on weight gradients.
    """
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def one_hot(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``(B, C)`` tensor with a one at each row's target class."""
    return torch.zeros_like(logits).scatter_(1, targets.reshape(-1, 1), 1.0)


def seeded_backward(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None,
    *,
    seed_with_logit: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One forward and one backward pass from the target logits.

    Parameters
    ----------
    model : torch.nn.Module
        Network returning logits ``(B, C)``; hooks (LRP composites) may be registered.
    inputs : torch.Tensor
        ``(B, ...)`` batch.
    targets : torch.Tensor or None
        ``(B,)`` class indices; ``None`` explains each input's predicted class.
    seed_with_logit : bool
        Start the backward pass from the logit's value (LRP, so input relevance sums
        to the logit) instead of from one (a plain gradient).

    Returns
    -------
    grad, logits, targets : torch.Tensor
        ``grad`` shaped like ``inputs``, ``logits`` ``(B, C)``, ``targets`` ``(B,)``.
    """
    x = inputs.detach().to(model_dtype(model)).requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        if targets is None:
            targets = logits.detach().argmax(dim=1)
        seed = one_hot(logits.detach(), targets)
        if seed_with_logit:
            seed = seed * logits.detach()
        (grad,) = torch.autograd.grad(logits, x, grad_outputs=seed)
    return grad, logits.detach(), targets
