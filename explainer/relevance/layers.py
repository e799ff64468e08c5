"""Forward and transposed (input-gradient) maps of the linear layers LRP rules act on.

The fast rules call these directly instead of asking autograd, which is what lets them
skip work autograd cannot know is unnecessary. Supported: ``nn.Linear``, ``nn.Conv1d``
and ``nn.Conv2d`` with integer zero padding (what AudioNet and AlexNet use).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SUPPORTED = (nn.Linear, nn.Conv1d, nn.Conv2d)


def check_supported(module: nn.Module) -> None:
    """Raise ``TypeError`` for a layer the fast rules cannot handle exactly."""
    if not isinstance(module, SUPPORTED):
        raise TypeError(
            f"fast LRP rules support {[t.__name__ for t in SUPPORTED]}, not {type(module).__name__}"
        )
    if isinstance(module, nn.Conv1d | nn.Conv2d):
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            raise TypeError(
                f"fast LRP rules need integer zero padding, got {module.padding!r}/{module.padding_mode}"
            )


def forward(
    module: nn.Module, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """The layer's output for ``x`` with ``weight`` and ``bias`` in place of its own."""
    if isinstance(module, nn.Linear):
        return F.linear(x, weight, bias)
    conv = F.conv1d if isinstance(module, nn.Conv1d) else F.conv2d
    return conv(x, weight, bias, module.stride, module.padding, module.dilation, module.groups)


def transpose(
    module: nn.Module, x: torch.Tensor, weight: torch.Tensor, grad: torch.Tensor
) -> torch.Tensor:
    """Vector-Jacobian product ``grad^T d forward(x, weight) / dx``, shaped like ``x``.

    The layer is linear in ``x``, so this does not depend on ``x``'s values, only its shape.
    """
    if isinstance(module, nn.Linear):
        return grad.matmul(weight)
    return torch.ops.aten.convolution_backward(
        grad,
        x,
        weight,
        None,
        module.stride,
        module.padding,
        module.dilation,
        False,
        [0] * len(module.stride),
        module.groups,
        (True, False, False),
    )[0]


def stack_out(weights: list[torch.Tensor], groups: int) -> torch.Tensor:
    """Stack weights along output channels so one grouped call computes every branch.

    Grouped convolutions own contiguous blocks of output channels, so the branches are
    interleaved per group: ``[g0: w0, w1, ..., g1: w0, w1, ...]``.
    """
    if groups == 1:
        return torch.cat(weights, dim=0)
    parts = [w.reshape(groups, w.shape[0] // groups, *w.shape[1:]) for w in weights]
    stacked = torch.cat(parts, dim=1)
    return stacked.reshape(-1, *weights[0].shape[1:])


def stack_bias(biases: list[torch.Tensor], groups: int) -> torch.Tensor:
    """Biases stacked in the same order as :func:`stack_out`."""
    if groups == 1:
        return torch.cat(biases, dim=0)
    return torch.cat([b.reshape(groups, -1) for b in biases], dim=1).reshape(-1)
