"""Statistics, figures and reports from a hearxai export (export v1).

Importing this package is cheap: the public functions are loaded on first use,
so ``python -m analysis --help`` answers without importing pandas or statsmodels.

Public API (tidy in, tidy out; each docstring lists the returned columns)::

    from analysis import load_export, apply_exclusions, accuracy_by_condition
    from analysis import compare_conditions, fit_gee, fit_crossed_glmm
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Export": "analysis.io",
    "ExportError": "analysis.io",
    "load_export": "analysis.io",
    "write_export": "analysis.io",
    "main_trials": "analysis.io",
    "ExclusionConfig": "analysis.exclusions",
    "load_exclusion_config": "analysis.exclusions",
    "apply_exclusions": "analysis.exclusions",
    "accuracy_by_condition": "analysis.descriptive",
    "signal_detection": "analysis.descriptive",
    "dprime": "analysis.descriptive",
    "stimulus_difficulty": "analysis.descriptive",
    "confidence_calibration": "analysis.descriptive",
    "rating_summary": "analysis.descriptive",
    "participant_accuracy": "analysis.compare",
    "compare_conditions": "analysis.compare",
    "compare_ratings": "analysis.compare",
    "holm": "analysis.compare",
    "fit_gee": "analysis.compare",
    "fit_crossed_glmm": "analysis.glmm",
    "glmm_contrasts": "analysis.glmm",
    "CrossedGLMMResult": "analysis.glmm",
    "fit_log_rt_model": "analysis.rt",
    "rt_summary": "analysis.rt",
    "LogRTResult": "analysis.rt",
    "fit_ordinal_mixed": "analysis.ordinal",
    "OrdinalMixedResult": "analysis.ordinal",
    "simulate_rating_trials": "analysis.simulate",
    "fit_crossed_lmm": "analysis.lmm",
    "CrossedLMMResult": "analysis.lmm",
    "calibration_summary": "analysis.descriptive",
    "GEEResult": "analysis.compare",
    "ExclusionResult": "analysis.exclusions",
    "coverage_study": "analysis.calibration",
    "interval_checks": "analysis.calibration",
    "model_calibration": "analysis.model_calibration",
    "logodds_for_accuracies": "analysis.power",
    "simulate_accuracy_trials": "analysis.simulate",
    "software_versions": "analysis.report",
    "power_curve": "analysis.power",
    "simulate_power": "analysis.power",
    "PowerModel": "analysis.power",
    "PowerRuns": "analysis.power",
    "Pilot": "analysis.power",
    "load_pilot": "analysis.power",
    "fit_pilot": "analysis.power",
    "power_grid": "analysis.power",
    "minimal_detectable_effect": "analysis.power",
    "mde_table": "analysis.power",
    "SimulationSpec": "analysis.simulate",
    "simulate_study": "analysis.simulate",
    "simulate_export": "analysis.simulate",
    "build_report": "analysis.report",
    "ReportOptions": "analysis.sections.base",
    "marginal_means": "analysis.marginal",
    "adjusted_contrasts": "analysis.marginal",
    "equivalence_test": "analysis.marginal",
    "likelihood_ratio_test": "analysis.marginal",
    "condition_problems": "analysis.estimability",
    "stimulus_effects": "analysis.stimuli",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first access (PEP 562)."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)


def __dir__() -> list[str]:
    return __all__
