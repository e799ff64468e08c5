"""Why a condition comparison cannot be estimated, in words, before any model runs.

A model fitted to such data does not fail loudly: with one condition there is no
contrast, a condition whose answers are all correct drives its log-odds to
infinity (complete separation) and a GEE then reports an odds ratio near 1 with
p = 1. These checks name the problem instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis._checks import check_columns


def condition_problems(
    data: pd.DataFrame,
    *,
    levels: Sequence[str],
    expected: Sequence[str] = (),
    condition: str = "condition",
    outcome: str = "answer_correct",
    participant: str = "participant",
) -> tuple[list[str], list[str]]:
    """Split condition levels into those a model can compare and reasons for the rest.

    Parameters
    ----------
    data : one row per trial.
    levels : levels present in ``data``, reference first.
    expected : levels the study had (e.g. from participants.csv); any without
        trials is reported.

    Returns
    -------
    (usable levels in order, one sentence per problem found)
    """
    check_columns(data, {condition: "any", outcome: "bool", participant: "any"}, where="trials")
    problems = [
        f"condition '{lv}' has no trials after exclusions" for lv in expected if lv not in levels
    ]
    usable = []
    for level in levels:
        y = data.loc[data[condition].astype(str) == level, outcome].astype(bool)
        if y.all() or not y.any():
            state = "correct" if y.all() else "wrong"
            problems.append(
                f"every answer in condition '{level}' was {state} (complete separation: "
                "its log-odds are infinite), so it is left out of the model"
            )
        else:
            usable.append(level)
    if data[participant].nunique() < 3:
        problems.append(
            f"only {data[participant].nunique()} participants (a model needs 3 or more)"
        )
    elif len(usable) < 2:
        problems.append(
            f"only one condition ({', '.join(usable) or 'none'}) can be modelled: "
            "there is nothing to compare"
        )
    return usable, problems
