"""Non-LRP methods, so a study can compare LRP with the usual alternatives.

Inputs are either waveforms ``(B, 1, samples)`` or spectrograms ``(B, 1, freq, frames)``;
both have time on the last axis. "Silence" means zeros for a waveform and, for a dB
spectrogram, each input's own minimum (its quietest bin).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from explainer.relevance.gradients import model_dtype, one_hot, seeded_backward
from explainer.relevance.registry import register_method

Result = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def silence_like(inputs: torch.Tensor) -> torch.Tensor:
    """Silence in the input's own representation, shaped like ``inputs``."""
    if inputs.ndim == 3:
        return torch.zeros_like(inputs)
    floor = inputs.reshape(inputs.shape[0], -1).min(dim=1).values
    return floor.reshape(-1, *([1] * (inputs.ndim - 1))).expand_as(inputs).clone()


def time_rate(inputs: torch.Tensor) -> float:
    """Steps per second along the last (time) axis: samples for a waveform, frames for a spectrogram."""
    from explainer import preprocessing

    if inputs.ndim == 3:
        return float(preprocessing.SAMPLE_RATE)
    return preprocessing.SAMPLE_RATE / (preprocessing.NPERSEG - preprocessing.NOVERLAP)


def _predict(
    model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        logits = model(inputs.to(model_dtype(model)))
    return logits, (logits.argmax(dim=1) if targets is None else targets)


@register_method(
    "gradient", "baseline", "Gradient of the explained logit with respect to the input."
)
def gradient(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None,
    params: Mapping[str, Any],
) -> Result:
    return seeded_backward(model, inputs, targets, seed_with_logit=False)


@register_method("gradient-x-input", "baseline", "Input times the gradient of the explained logit.")
def gradient_x_input(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None,
    params: Mapping[str, Any],
) -> Result:
    grad, logits, targets = seeded_backward(model, inputs, targets, seed_with_logit=False)
    return inputs.to(grad) * grad, logits, targets


@register_method(
    "integrated-gradients",
    "baseline",
    "Integrated gradients from silence to the input (midpoint rule with n_steps steps).",
    n_steps=32,
)
def integrated_gradients(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None,
    params: Mapping[str, Any],
) -> Result:
    n_steps = int(params["n_steps"])
    if n_steps < 1:
        raise ValueError("integrated-gradients needs n_steps >= 1")
    logits, targets = _predict(model, inputs, targets)
    x = inputs.to(logits.dtype)
    baseline = silence_like(x)
    total = torch.zeros_like(x)
    for step in range(n_steps):
        alpha = (step + 0.5) / n_steps
        grad, _, _ = seeded_backward(
            model, baseline + alpha * (x - baseline), targets, seed_with_logit=False
        )
        total += grad
    return (x - baseline) * total / n_steps, logits, targets


@register_method(
    "smoothgrad",
    "baseline",
    "Mean gradient over noisy copies of the input (noise sd = noise_level x the input's range; "
    "the same seeded noise for every input).",
    n_samples=16,
    noise_level=0.1,
    seed=0,
)
def smoothgrad(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None,
    params: Mapping[str, Any],
) -> Result:
    logits, targets = _predict(model, inputs, targets)
    x = inputs.to(logits.dtype)
    flat = x.reshape(x.shape[0], -1)
    sigma = (params["noise_level"] * (flat.max(1).values - flat.min(1).values)).reshape(
        -1, *([1] * (x.ndim - 1))
    )
    # One noise draw shared by the whole batch keeps each explanation independent of its batch.
    generator = torch.Generator().manual_seed(int(params["seed"]))
    noise = torch.randn(
        (int(params["n_samples"]), *x.shape[1:]), generator=generator, dtype=x.dtype
    )
    total = torch.zeros_like(x)
    for draw in noise:
        grad, _, _ = seeded_backward(model, x + sigma * draw, targets, seed_with_logit=False)
        total += grad
    return total / len(noise), logits, targets


def occlusion_windows(length: int, window: int, stride: int) -> list[int]:
    """Start indices of windows of ``window`` steps every ``stride`` steps covering ``length`` steps."""
    window = min(window, length)
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


@register_method(
    "occlusion",
    "baseline",
    "Time-segment occlusion: each time step gets the mean drop of the explained logit over the "
    "windows (window_ms long, every stride_ms) that silenced it.",
    window_ms=50.0,
    stride_ms=25.0,
    windows_per_pass=8,
)
def occlusion(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None,
    params: Mapping[str, Any],
) -> Result:
    logits, targets = _predict(model, inputs, targets)
    x = inputs.to(logits.dtype)
    length, rate = x.shape[-1], time_rate(x)
    window = max(1, round(params["window_ms"] / 1000 * rate))
    starts = occlusion_windows(length, window, max(1, round(params["stride_ms"] / 1000 * rate)))
    silence, reference = silence_like(x), logits.gather(1, targets.reshape(-1, 1)).reshape(-1)
    drop_sum, count = x.new_zeros((x.shape[0], length)), x.new_zeros(length)
    per_pass = max(1, int(params["windows_per_pass"]))
    for first in range(0, len(starts), per_pass):
        chunk = starts[first : first + per_pass]
        occluded = x.unsqueeze(0).repeat(len(chunk), *([1] * x.ndim))
        for k, start in enumerate(chunk):
            occluded[k, ..., start : start + window] = silence[..., start : start + window]
        with torch.no_grad():
            out = model(occluded.reshape(-1, *x.shape[1:])).reshape(len(chunk), x.shape[0], -1)
        drops = reference - (out * one_hot(logits, targets)).sum(-1)  # (windows, B)
        for k, start in enumerate(chunk):
            drop_sum[:, start : start + window] += drops[k].unsqueeze(1)
            count[start : start + window] += 1
    per_step = drop_sum / count
    return (
        per_step.reshape(x.shape[0], *([1] * (x.ndim - 2)), length).expand_as(x).clone(),
        logits,
        targets,
    )
