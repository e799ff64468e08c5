"""The report's text and its bad inputs: APA numbers traceable to tables, and every
listed bad input ending in a one-line error or a "not estimable: reason" note."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.__main__ import main
from analysis.io import write_export
from analysis.simulate import SimulationSpec, simulate_export, simulate_study
from analysis.text import format_ci, format_p, readable


def _report(export: Path, out: Path, *extra: str) -> dict[str, object]:
    assert (
        main(["report", str(export), "--out", str(out), "--quiet", "--format", "md", *extra]) == 0
    )
    return json.loads((out / "report.json").read_text())


def test_p_values_are_printed_in_apa_style() -> None:
    assert format_p(0.01423) == "p = .014"
    assert format_p(4.712e-25) == "p < .001"
    assert format_p(0.9999) == "p = 1"
    assert format_ci(1.0634, 1.6601) == "95% CI [1.06, 1.66]"


def test_tables_get_readable_headers_but_rating_shares_stay_numbers() -> None:
    table = pd.DataFrame({"p_value": [3e-9], "p_1": [0.25], "odds_ratio": [1.33333]})
    shown = readable(table)
    assert list(shown.columns) == ["p", "p 1", "OR"]
    assert shown.iloc[0].tolist() == ["< .001", "0.250", "1.333"]


def test_every_results_sentence_names_a_table_that_was_written(
    rich_export: Path, tmp_path: Path
) -> None:
    summary = _report(rich_export, tmp_path / "rep", "--equivalence-bound", "1.5")
    results = str(summary["results"])
    assert re.search(
        r"OR = \d\.\d\d, 95% CI \[\d\.\d\d, \d\.\d\d\], t\(\d+\) = −?\d\.\d\d, p [=<] \.\d{3}",
        results,
    )
    tables = {p.stem for p in (tmp_path / "rep" / "tables").glob("*.csv")}
    named = set(re.findall(r"\(table (\w+)\)", results))
    assert named and named <= tables
    assert "answer_correct ~ condition + (1 | participant) + (1 | stimulus)" in str(
        summary["methods"]
    )
    assert "(0 participants" not in str(summary["methods"])
    assert "between-within denominator degrees of freedom (Li & Redden, 2015" in str(
        summary["methods"]
    )


def test_a_single_condition_study_says_there_is_nothing_to_compare(tmp_path: Path) -> None:
    spec = SimulationSpec(
        n_participants=12,
        n_trials=20,
        n_stimuli=30,
        conditions=("visual",),
        effects=(0.0,),
        dprime=(1.0,),
        criterion=(0.0,),
        log_rt_effects=(0.0,),
        seed=3,
    )
    summary = _report(simulate_export(tmp_path / "export", spec), tmp_path / "rep")
    assert "nothing to compare" in json.dumps(summary["notes"])
    assert len(summary["accuracy_model"]) == 1


def test_a_three_condition_within_study_states_its_random_effects_and_their_choice(
    tmp_path: Path,
) -> None:
    spec = SimulationSpec(
        n_participants=30,
        n_trials=36,
        n_stimuli=40,
        conditions=("visual", "audible", "both"),
        effects=(0.0, 0.4, 0.7),
        dprime=(1.0,) * 3,
        criterion=(0.0,) * 3,
        log_rt_effects=(0.0, 0.05, 0.1),
        within=True,
        with_events=False,
        seed=8,
    )
    summary = _report(simulate_export(tmp_path / "export", spec), tmp_path / "rep")
    methods = str(summary["methods"])
    assert "Following Barr et al. (2013)" in methods
    assert "random slopes by participant were not estimated" in methods
    assert "paired t-tests" in methods
    results = str(summary["results"])
    assert "Accuracy differed significantly between conditions, χ²(2)" in results
    assert results.count("(table glmm_contrasts)") == 3
    effects = pd.read_csv(tmp_path / "rep" / "tables" / "glmm_random_effects.csv")
    assert set(effects["group"]) == {"participant", "stimulus"}


def _all_correct(tmp_path: Path) -> Path:
    study = simulate_study(SimulationSpec(n_participants=10, n_trials=12, n_stimuli=20, seed=4))
    trials = study.trials.copy()
    forward = trials["task"] == "forward"
    trials.loc[forward, "answer"] = trials.loc[forward, "predicted_label"]
    trials.loc[forward, "answer_correct"] = True
    return write_export(
        tmp_path / "export",
        trials=trials,
        participants=study.participants,
        events=study.events,
        study="all-correct",
        title="every answer correct",
    )


def test_all_answers_correct_is_named_separation_not_an_odds_ratio_of_one(
    tmp_path: Path,
) -> None:
    summary = _report(_all_correct(tmp_path), tmp_path / "rep")
    notes = json.dumps(summary["notes"])
    assert "complete separation" in notes
    assert "gee_contrasts" not in summary and "glmm_contrasts" not in summary


def test_two_participants_get_a_note_not_a_traceback(tmp_path: Path) -> None:
    spec = SimulationSpec(n_participants=2, n_trials=10, n_stimuli=12, seed=6)
    summary = _report(simulate_export(tmp_path / "export", spec), tmp_path / "rep")
    assert "only 2 participants" in json.dumps(summary["notes"])


def test_an_empty_folder_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "rep"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert not (tmp_path / "rep").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--covariate", "no_such_column"], "missing column 'no_such_column'"),
        (["--covariate", "answer"], "not a numeric or boolean column"),
        (["--equivalence-bound", "0.8"], "odds ratio above 1"),
        (["--interaction", "nope"], "missing column 'nope'"),
    ],
)
def test_bad_report_options_are_one_line_and_exit_2(
    rich_export: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    code = main(["report", str(rich_export), "--out", str(tmp_path / "rep"), "--quiet", *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "\n" not in err
    assert not (tmp_path / "rep").exists()


def test_a_covariate_enters_the_model_and_the_formula(rich_export: Path, tmp_path: Path) -> None:
    summary = _report(rich_export, tmp_path / "rep", "--covariate", "trial_position")
    assert "answer_correct ~ condition + trial_position + (1 | participant)" in str(
        summary["methods"]
    )
    coefficients = pd.read_csv(tmp_path / "rep" / "tables" / "glmm_coefficients.csv")
    assert "trial_position" in set(coefficients["term"])


def test_an_interaction_gets_a_likelihood_ratio_test_in_the_results(
    rich_export: Path, tmp_path: Path
) -> None:
    summary = _report(rich_export, tmp_path / "rep", "--interaction", "model_correct")
    assert "by model_correct, χ²(1) = " in str(summary["results"])
    test = pd.read_csv(tmp_path / "rep" / "tables" / "interaction_model_correct_test.csv")
    assert test["df"].tolist() == [1] and 0 <= test["p_value"].iloc[0] <= 1
