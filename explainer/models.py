"""The paper's two networks, layer for layer (see AUDIOMNIST.md).

Both return logits (no softmax inside) so relevance starts from the logit of the
explained class. ``width`` scales the number of channels and hidden units: 1.0 is
the paper's network; smaller values give the quick models the demo and tests use
while keeping the same layer structure (and so the same LRP rules per layer).
``dropout`` is the paper's 0.5 by default; it only acts in training mode, so a
different rate changes how a network learns, never what a trained one computes.
"""

from __future__ import annotations

import torch
from torch import nn

WAVEFORM_SAMPLES = 8000
SPECTROGRAM_SIZE = 227


def _scaled(n: int, width: float) -> int:
    return max(4, int(round(n * width)))


class AudioNet(nn.Module):
    """1-D CNN on raw waveforms.

    Input ``(batch, 1, 8000)`` normalised waveform; output ``(batch, n_classes)`` logits.
    """

    def __init__(self, n_classes: int = 10, width: float = 1.0, dropout: float = 0.5) -> None:
        super().__init__()
        channels = [_scaled(c, width) for c in (100, 64, 128, 128, 128, 128)]
        layers: list[nn.Module] = [
            nn.Conv1d(1, channels[0], kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool1d(kernel_size=3, stride=2),
        ]
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [
                nn.Conv1d(c_in, c_out, kernel_size=3, padding=1),
                nn.ReLU(),
                nn.MaxPool1d(kernel_size=2, stride=2),
            ]
        self.features = nn.Sequential(*layers)
        length = self._feature_length()
        hidden1, hidden2 = _scaled(1024, width), _scaled(512, width)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels[-1] * length, hidden1),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden1, hidden2),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden2, n_classes),
        )

    @staticmethod
    def _feature_length() -> int:
        length = (WAVEFORM_SAMPLES - 3) // 2 + 1
        for _ in range(5):
            length //= 2
        return length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class AlexNet(nn.Module):
    """AlexNet variant on 227 x 227 dB spectrograms, without local response normalisation.

    Input ``(batch, 1, 227, 227)``; output ``(batch, n_classes)`` logits.
    """

    def __init__(self, n_classes: int = 10, width: float = 1.0, dropout: float = 0.5) -> None:
        super().__init__()
        # Grouped convolutions need channel counts divisible by 2.
        c1, c2, c3, c4, c5 = (2 * _scaled(c // 2, width) for c in (96, 256, 384, 384, 256))
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=11, stride=4),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c1, c2, kernel_size=5, padding=2, groups=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1, groups=2),
            nn.ReLU(),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1, groups=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        hidden = _scaled(1024, width)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c5 * 6 * 6, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


MODELS: dict[str, type[nn.Module]] = {"audionet": AudioNet, "alexnet": AlexNet}
MODEL_INPUT = {"audionet": "waveform", "alexnet": "spectrogram"}


def build_model(name: str, n_classes: int, width: float = 1.0, dropout: float = 0.5) -> nn.Module:
    """Construct a model by its registered name (``audionet`` or ``alexnet``)."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    return cls(n_classes=n_classes, width=width, dropout=dropout)
