"""Power from a pilot export: the fitted model, the grid, the MDE and bad input.

Simulated studies are analysed with the participant-level test (``welch``, paired
when within), the fastest method, so the Monte Carlo runs stay small and seeded.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analysis.__main__ import main
from analysis.power import (
    PowerModel,
    PowerRuns,
    load_pilot,
    mde_table,
    power_grid,
    simulate_power,
    trials_for,
)
from analysis.simulate import SimulationSpec, simulate_export


def fast(n_sims: int, seed: int = 0) -> PowerRuns:
    return PowerRuns(n_sims=n_sims, method="welch", seed=seed)


def _pilot(root: Path, name: str, effect: float, *, within: bool = False) -> Path:
    spec = SimulationSpec(
        n_participants=30,
        n_trials=20,
        n_stimuli=40,
        effects=(0.0, effect),
        within=within,
        with_events=False,
        seed=3,
    )
    return simulate_export(root / name, spec)


@pytest.fixture(scope="module")
def pilots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pilots")
    return {
        "large": _pilot(root, "large", 1.2),
        "null": _pilot(root, "null", 0.0),
        "within": _pilot(root, "within", 0.8, within=True),
    }


def test_the_pilot_fit_recovers_its_design_sizes_and_a_large_effect(
    pilots: dict[str, Path],
) -> None:
    pilot = load_pilot(pilots["large"])
    assert pilot.levels == ("visual", "audible") and pilot.design == "between"
    assert (pilot.n_participants, pilot.n_stimuli, pilot.trials_per_participant) == (30, 40, 20)
    assert pilot.share == 0.5
    # Simulated with effect 1.2, SDs 0.8 and 0.5 (log-odds): within ~2 SE of the truth.
    assert abs(pilot.model.effect - 1.2) < 2 * pilot.effect_se
    assert 0.3 < pilot.model.sd_participant < 1.3
    assert load_pilot(pilots["within"]).design == "within"
    assert load_pilot(pilots["large"], design="within").model.design == "within"


def test_power_from_a_pilot_with_a_large_effect_is_high(pilots: dict[str, Path]) -> None:
    model = load_pilot(pilots["large"]).model
    table = power_grid(model, [30], [40], share=0.5, runs=fast(40, seed=1))
    assert table["power"].iloc[0] >= 0.9
    within = load_pilot(pilots["within"]).model
    assert power_grid(within, [30], [40], runs=fast(30, seed=2))["power"].iloc[0] >= 0.9


def test_power_without_an_effect_is_alpha_within_monte_carlo_error(
    pilots: dict[str, Path],
) -> None:
    # The pilot's nuisance parameters with the effect set to 0 (a pilot's own estimate
    # is noise around 0, not 0). With 300 simulations the rejection rate's SD at
    # alpha = .05 is sqrt(.05 * .95 / 300) = .0126; we allow 3 SD either side.
    model = load_pilot(pilots["null"]).model.with_difference(0.0)
    row = power_grid(model, [24], [20], trials=10, runs=fast(300, seed=5)).iloc[0]
    bound = 3 * math.sqrt(0.05 * 0.95 / 300)
    assert abs(row["power"] - 0.05) <= bound
    assert row["difference"] == pytest.approx(0.0, abs=1e-9)


def test_power_increases_with_participants_and_with_stimuli(pilots: dict[str, Path]) -> None:
    model = load_pilot(pilots["null"]).model.with_difference(0.12)
    table = power_grid(model, [12, 60], [8, 40], share=0.5, runs=fast(40, seed=7))
    power = table.set_index(["n_participants", "n_stimuli"])["power"]
    assert list(table["n_trials"]) == [4, 4, 20, 20]  # half the pool, as in the pilot
    assert power[(60, 8)] > power[(12, 8)] and power[(60, 40)] > power[(12, 40)]
    assert power[(12, 40)] > power[(12, 8)] and power[(60, 40)] > power[(60, 8)]


def test_the_minimal_detectable_effect_shrinks_as_participants_grow(
    pilots: dict[str, Path],
) -> None:
    model = load_pilot(pilots["large"]).model
    table = mde_table(model, [12, 60], [20], trials=10, steps=5, runs=fast(30))
    small, large = table.itertuples()
    assert large.effect < small.effect and large.difference < small.difference
    assert large.power >= 0.8 and small.power >= 0.8
    assert small.odds_ratio == pytest.approx(math.exp(small.effect))
    base, other = model.with_effect(large.effect).accuracies()
    assert large.difference == pytest.approx(other - base)


def test_trials_follow_the_requested_count_or_the_pilot_share() -> None:
    assert trials_for(40, trials=20) == 20 and trials_for(10, trials=20) == 10
    assert trials_for(40, share=0.5) == 20 and trials_for(3, share=0.1) == 1
    assert trials_for(12) == 12


def test_assumed_power_is_unchanged_by_the_pilot_extension() -> None:
    """The assumed-SD path goes through the same model: its marginal accuracies hold."""
    row = simulate_power(
        n_participants=20, n_trials=10, difference=0.1, n_sims=5, method="welch", seed=0
    )
    assert row["baseline"] == pytest.approx(0.6) and row["difference"] == pytest.approx(0.1)
    assert row["design"] == "between" and row["n_stimuli"] == 40
    with pytest.raises(ValueError, match="design"):
        PowerModel(0.0, 0.0, 0.8, 0.5, design="mixed")


def test_the_pilot_command_writes_the_grid_the_mde_and_the_figure(
    pilots: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "power"
    args = ["power", "--pilot", str(pilots["large"]), "--participants", "10,20"]
    args += ["--stimuli", "20", "--method", "welch", "--sims", "6", "--mde", "--quiet"]
    assert main([*args, "--target", "0.5", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"power.csv", "power.png", "mde.csv"}
    assert capsys.readouterr().out.startswith("pilot: 30 participants, 40 stimuli")


def _single_condition(root: Path) -> Path:
    spec = SimulationSpec(
        n_participants=8,
        n_trials=10,
        n_stimuli=20,
        conditions=("visual",),
        effects=(0.0,),
        dprime=(1.0,),
        criterion=(0.0,),
        log_rt_effects=(0.0,),
        with_events=False,
    )
    return simulate_export(root / "single", spec)


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "export folder not found"),
        ("empty", "missing codebook"),
        ("single", "single condition"),
        ("grid", "stimulus counts must be integers >= 2"),
        ("text", "expected comma-separated integers"),
        ("levels", "--levels needs two different conditions"),
        ("assumed", "--sd-participant: with --pilot these come from the pilot"),
    ],
)
def test_bad_pilot_input_is_one_line_and_writes_nothing(
    case: str,
    message: str,
    pilots: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "empty").mkdir()
    pilot = {
        "missing": tmp_path / "nowhere",
        "empty": tmp_path / "empty",
        "single": _single_condition(tmp_path) if case == "single" else pilots["large"],
    }.get(case, pilots["large"])
    extra = {
        "grid": ["--stimuli", "20,1"],
        "text": ["--stimuli", "20,x"],
        "levels": ["--levels", "visual,both"],
        "assumed": ["--sd-participant", "0.3"],
    }.get(case, [])
    out = tmp_path / "out"
    argv = ["power", "--pilot", str(pilot), "--participants", "10", "--out", str(out), *extra]
    try:
        code = main([*argv, "--quiet", "--sims", "2"])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error:")
    assert message in err
    assert not out.exists()
