"""What one training run is (:class:`TrainConfig`, the presets) and how it is run (:class:`RunOptions`).

Its own module so that the command (:mod:`explainer.training`) and the loop
(:mod:`explainer.trainer`) both import it, and neither imports the other back.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from explainer.models import MODEL_INPUT
from explainer.preprocessing import long_clip_policy

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "audionet": {
            "width": 1.0,
            "optimizer": "sgd",
            "lr": 1e-4,
            "momentum": 0.9,
            "batch_size": 100,
            "epochs": None,
            "max_steps": 50_000,
            "grad_clip": None,
            "placements": 1,
            "dropout": 0.5,
            "lr_schedule": "constant",
            "speed_perturbation": 0.0,
        },
        "alexnet": {
            "width": 1.0,
            "optimizer": "sgd",
            "lr": 1e-3,
            "momentum": 0.9,
            "batch_size": 100,
            "epochs": None,
            "max_steps": 10_000,
            "grad_clip": 5.0,
            "placements": 1,
            "dropout": 0.5,
            "lr_schedule": "constant",
            "speed_perturbation": 0.0,
        },
    },
    "demo": {
        "audionet": {
            "width": 0.25,
            "optimizer": "adam",
            "lr": 1e-3,
            "momentum": 0.9,
            "batch_size": 32,
            "epochs": 12,
            "max_steps": None,
            "grad_clip": None,
            "placements": 8,
            "dropout": 0.0,
            "lr_schedule": "cosine",
            "speed_perturbation": 0.1,
        },
        "alexnet": {
            "width": 0.25,
            "optimizer": "adam",
            "lr": 1e-3,
            "momentum": 0.9,
            "batch_size": 32,
            "epochs": 12,
            "max_steps": None,
            "grad_clip": None,
            "placements": 4,
            "dropout": 0.0,
            "lr_schedule": "cosine",
            "speed_perturbation": 0.1,
        },
    },
}
TUNABLE = (
    "width",
    "optimizer",
    "lr",
    "momentum",
    "batch_size",
    "epochs",
    "max_steps",
    "grad_clip",
    "placements",
    "dropout",
    "lr_schedule",
    "speed_perturbation",
)


@dataclass
class TrainConfig:
    """The exact configuration of one run, written to ``config.json``."""

    architecture: str
    task: str
    preset: str
    split: dict[str, Any]
    split_seed: int
    seed: int
    width: float
    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    batch_size: int
    epochs: int | None
    max_steps: int | None
    grad_clip: float | None
    placements: int
    dropout: float
    lr_schedule: str
    speed_perturbation: float
    long_clips: str
    max_takes: int | None
    drop_duplicates: bool
    skip_unknown_speakers: bool

    @property
    def representation(self) -> str:
        return MODEL_INPUT[self.architecture]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values.setdefault("long_clips", long_clip_policy(data))
        return cls(**values)


@dataclass
class RunOptions:
    """How to run (not what to train): caching, parallelism, progress display, interruption."""

    cache_dir: Path | None = None
    workers: int = 1
    progress: bool = True
    stop_after: int | None = None
