"""What every report section shares: the Section it returns and the Context it reads.

A section function takes the ``Context`` and returns a ``Section``. The text of
the report is assembled from the sections: each adds ``methods`` sentences only
for what it actually ran and ``results`` sentences only for numbers it also puts
in one of its tables, so every number in the text can be traced to a table.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis._errors import NotEnoughData
from analysis._wald import METHOD as WALD_METHOD
from analysis._wald import METHOD_AGAIN as WALD_SHORT
from analysis.exclusions import ExclusionResult
from analysis.io import Export

# Failures that mean "these data cannot support this model", not a bug.
DATA_LIMITS = (NotEnoughData, np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError)


@dataclass(frozen=True)
class ReportOptions:
    """What the researcher chose on the command line.

    Attributes
    ----------
    covariates : numeric or boolean trial columns added to the accuracy model.
    interactions : trial columns whose interaction with condition is tested.
    equivalence_bound : odds ratio ``B > 1``; contrasts inside ``[1/B, B]`` are tested
        for equivalence (TOST). None: no equivalence test.
    adjust : multiplicity adjustment of pairwise contrasts ("holm" or "tukey").
    alpha : significance level of every test.
    """

    covariates: tuple[str, ...] = ()
    interactions: tuple[str, ...] = ()
    equivalence_bound: float | None = None
    adjust: str = "holm"
    alpha: float = 0.05


@dataclass
class Section:
    """One part of the report: tables (written as CSV), a figure with caption, text."""

    key: str
    title: str
    intro: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figure: str | None = None
    caption: str = ""
    notes: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)


@dataclass
class Context:
    """The analysed data and shared fits; sections read it and add to ``summary``."""

    export: Export
    kept: ExclusionResult
    forward: pd.DataFrame
    verification: pd.DataFrame
    levels: list[str]
    figures_dir: Path
    options: ReportOptions = field(default_factory=ReportOptions)
    summary: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    wald_named: bool = False

    def wald_method(self) -> str:
        """The mixed models' tests as the methods text names them: in full the first time,
        briefly after that (the report fits up to five such models)."""
        if self.wald_named:
            return WALD_SHORT
        self.wald_named = True
        return WALD_METHOD

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """A result several sections use, computed once (a data limit is cached too)."""
        if key not in self.cache:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self.cache[key] = compute()
            except DATA_LIMITS as exc:
                self.cache[key] = NotEnoughData(str(exc))
        value = self.cache[key]
        if isinstance(value, NotEnoughData):
            raise value
        return value


def attempt(section: Section, what: str, fn: Callable[[], Any]) -> Any:
    """Run one statistic; on a data limitation add "not estimable: reason" instead."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except DATA_LIMITS as exc:
        section.notes.append(f"{what}: not estimable: {exc}")
        return None
