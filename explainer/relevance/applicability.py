"""Which explanation methods can explain a model, and why not when they cannot.

The gradient baselines and occlusion need only a differentiable forward pass, so they
apply to any model. LRP needs a rule for every layer: it attaches zennit hooks to the
model's Python modules, merges each BatchNorm into the convolution or dense layer
before it (zennit's ``SequentialMergeBatchNorm``) and redistributes sums
(``zennit.layer.Sum``, for residual blocks) and average pools in proportion. A layer
outside that set would pass relevance on as a plain gradient and give a wrong answer,
so the method is refused instead.
"""

from __future__ import annotations

import julius
from torch import nn
from zennit.layer import Sum

# Layers the LRP composites give a rule to, or that pass relevance on exactly.
RULED = (nn.Conv1d, nn.Conv2d, nn.Linear)
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
EXACT = (
    nn.ReLU,  # see explainer.relevance.fast_rules: exact after rules that multiply by the input
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.Dropout,
    nn.Flatten,
    nn.Identity,
    Sum,
)
# The resampler in front of a waveform model declared at another rate
# (explainer.own_model.AtModelRate): a fixed linear map with no rule, so relevance comes
# back through its transpose, the interpolation weights, which keep the total.
FRONT_ENDS = (julius.ResampleFrac,)


def lrp_refusal(model: nn.Module) -> str | None:
    """Why LRP cannot explain ``model``, or None when every layer has a rule."""
    import torch

    if any(isinstance(layer, torch.jit.ScriptModule) for layer in model.modules()):
        return (
            "LRP attaches zennit hooks to the model's Python layers, which a TorchScript "
            "model does not expose; give it as module:factory with a state dict instead"
        )
    previous: nn.Module | None = None
    for name, layer in model.named_modules():
        if list(layer.children()):
            continue
        if isinstance(layer, BATCH_NORMS) and not isinstance(previous, RULED):
            return (
                f"layer {name!r} (BatchNorm) does not directly follow a convolution or dense "
                "layer, so it cannot be merged into one for LRP"
            )
        if not isinstance(layer, (*RULED, *BATCH_NORMS, *EXACT, *FRONT_ENDS)):
            return f"LRP has no rule for layer {name!r} ({type(layer).__name__})"
        previous = layer
    return None


def method_refusal(model: nn.Module, family: str) -> str | None:
    """Why a method of ``family`` ("lrp" or "baseline") cannot explain ``model``, or None."""
    return lrp_refusal(model) if family == "lrp" else None
