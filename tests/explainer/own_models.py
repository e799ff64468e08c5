"""Researchers' own models for the tests: factories a model description names.

``logmel_cnn`` is the issue's small log-mel CNN with BatchNorm; the others are models the
explainer must refuse or explain with care.
"""

from __future__ import annotations

import torch
from torch import nn
from zennit.layer import Sum


def logmel_cnn(n_classes: int = 10, channels: int = 8) -> nn.Module:
    """Conv-BatchNorm-ReLU blocks on a ``(1, 64, 227)`` log-mel input, average-pooled to 4 x 4.

    The dense layer has no bias, so LRP's relevance sums to the explained logit.
    """
    c = channels
    return nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1, bias=False),
        nn.BatchNorm2d(c),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c, 2 * c, 3, padding=1, bias=False),
        nn.BatchNorm2d(2 * c),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2 * c, 2 * c, 3, padding=1, bias=False),
        nn.BatchNorm2d(2 * c),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d((4, 4)),
        nn.Flatten(),
        nn.Linear(2 * c * 16, n_classes, bias=False),
    )


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus the input, the sum a ``zennit.layer.Sum`` module."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.sum = Sum()
        self.out = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.sum(torch.stack([x, self.body(x)], dim=-1)))


def residual_cnn(n_classes: int = 10, channels: int = 8) -> nn.Module:
    """A log-mel network with one residual block."""
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
        ResidualBlock(channels),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(channels, n_classes, bias=False),
    )


def recurrent_model(n_classes: int = 10) -> nn.Module:
    """A model with a layer LRP has no rule for (a GRU over the mel bands)."""

    class Recurrent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(64, 16, batch_first=True)
            self.head = nn.Linear(16, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.gru(x[:, 0].transpose(1, 2))
            return self.head(out[:, -1])

    return Recurrent()


def five_outputs() -> nn.Module:
    """A model with the wrong number of outputs for the digit task."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64 * 227, 5))


def not_a_module() -> str:
    return "a text, not a network"


def waveform_cnn(n_classes: int = 10, channels: int = 8) -> nn.Module:
    """Conv-BatchNorm-ReLU blocks on a raw waveform of any length (declared at 16 kHz in the tests)."""
    c = channels
    return nn.Sequential(
        nn.Conv1d(1, c, 33, stride=8, bias=False),
        nn.BatchNorm1d(c),
        nn.ReLU(),
        nn.MaxPool1d(4),
        nn.Conv1d(c, 2 * c, 9, stride=2, bias=False),
        nn.BatchNorm1d(2 * c),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(16),
        nn.Flatten(),
        nn.Linear(2 * c * 16, n_classes, bias=False),
    )
