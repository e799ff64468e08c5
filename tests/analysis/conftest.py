"""Shared fixtures for the analysis tests: small simulated studies, written once."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.simulate import SimulationSpec, simulate_export


@pytest.fixture(scope="session")
def rich_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 participants, two conditions, every kind of exclusion present, some verification trials."""
    spec = SimulationSpec(
        n_participants=60,
        n_trials=24,
        n_stimuli=40,
        verification_fraction=0.25,
        inattentive_rate=0.08,
        screen_fail_rate=0.08,
        incomplete_rate=0.08,
        fast_rate=0.05,
        pilot_fraction=0.05,
        declined_rate=0.05,
        seed=11,
    )
    return simulate_export(tmp_path_factory.mktemp("rich") / "export", spec)


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 participants, 2 conditions, 10 trials each: the smallest study the report must survive."""
    spec = SimulationSpec(n_participants=6, n_trials=10, n_stimuli=12, seed=5)
    return simulate_export(tmp_path_factory.mktemp("tiny") / "export", spec)
