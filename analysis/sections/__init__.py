"""The report's sections, in the order they appear.

Each entry is (progress label, function taking a ``Context`` and returning a
``Section``). To add an analysis to the report, write a module here with one
such function (tables, figure and caption, and ``methods``/``results`` sentences
only for what it ran) and add one line to ``SECTIONS``.
"""

from __future__ import annotations

from collections.abc import Callable

from analysis.sections.accuracy import accuracy_section
from analysis.sections.base import Context, ReportOptions, Section
from analysis.sections.calibration import calibration_section
from analysis.sections.comparison import comparison_section
from analysis.sections.designs import designs_section
from analysis.sections.detection import detection_section
from analysis.sections.exclusions import exclusion_section
from analysis.sections.faithfulness import faithfulness_section
from analysis.sections.moderation import moderation_section
from analysis.sections.ratings import ratings_section
from analysis.sections.response_times import rt_section
from analysis.sections.stimuli import stimulus_section

SECTIONS: tuple[tuple[str, Callable[[Context], Section]], ...] = (
    ("exclusions", exclusion_section),
    ("accuracy", accuracy_section),
    ("comparisons (crossed GLMM, GEE, participant level)", comparison_section),
    ("interactions", moderation_section),
    ("faithfulness", faithfulness_section),
    ("signal detection", detection_section),
    ("response times", rt_section),
    ("ratings", ratings_section),
    ("calibration", calibration_section),
    ("stimuli", stimulus_section),
    ("designs", designs_section),
)

__all__ = ["SECTIONS", "Context", "ReportOptions", "Section"]
