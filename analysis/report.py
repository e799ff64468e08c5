"""The one-command report: export in, HTML/Markdown + CSV tables + PNG figures out.

``build_report`` runs every statistic of the package on the main trials that
survive the exclusions, degrades to a "not enough data" note for any model the
data cannot support, and writes (atomically: a temporary folder renamed into
place) ``report.html`` and/or ``report.md``, ``report.json`` (key numbers, for
machines), ``tables/*.csv`` and ``figures/*.png``.
"""

from __future__ import annotations

import html
import json
import os
import platform
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from analysis import designs, figures
from analysis._contrasts import condition_levels
from analysis._errors import NotEnoughData
from analysis.compare import compare_conditions, compare_ratings, fit_gee
from analysis.descriptive import (
    accuracy_by_condition,
    calibration_summary,
    confidence_calibration,
    rating_summary,
    signal_detection,
    stimulus_difficulty,
)
from analysis.exclusions import ExclusionConfig, ExclusionResult, apply_exclusions
from analysis.glmm import fit_crossed_glmm, glmm_contrasts
from analysis.io import Export, ExportError, load_export
from analysis.rt import fit_log_rt_model, rt_summary

# Failures that mean "these data cannot support this model", not a bug.
_DATA_LIMITS = (NotEnoughData, np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError)
_REPORT_MARKER = "report.json"
FORMATS = ("html", "md")


@dataclass
class Section:
    """One part of the report: tables (written as CSV), an optional figure, notes."""

    key: str
    title: str
    intro: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figure: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Context:
    export: Export
    kept: ExclusionResult
    forward: pd.DataFrame
    verification: pd.DataFrame
    levels: list[str]
    figures_dir: Path
    summary: dict[str, Any] = field(default_factory=dict)


def _attempt(section: Section, what: str, fn: Callable[[], Any]) -> Any:
    """Run one statistic; on a data limitation add a note instead of failing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except _DATA_LIMITS as exc:
        section.notes.append(f"{what}: not enough data ({exc})")
        return None


def software_versions() -> dict[str, str]:
    """Versions of Python and of every library the numbers depend on."""
    versions = {"python": platform.python_version()}
    for name in ("hearxai", "numpy", "scipy", "pandas", "statsmodels", "matplotlib"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _accuracy_section(ctx: _Context) -> Section:
    sec = Section(
        "accuracy",
        "Forward-simulation accuracy by condition",
        "Share of main forward-simulation trials whose answer equals the model's prediction, "
        "with 95% Wilson intervals (trials pooled), overall and split by whether the model was right.",
    )
    if ctx.forward.empty:
        sec.notes.append("no forward-simulation trials after exclusions: not enough data")
        return sec
    table = accuracy_by_condition(ctx.forward)
    sec.tables["accuracy_by_condition"] = table
    sec.figure = figures.accuracy_figure(
        table, ctx.levels, ctx.figures_dir / "accuracy_by_condition.png"
    ).name
    overall = table.loc[table["model_correct"] == "all"]
    ctx.summary["accuracy"] = overall.drop(columns="model_correct").to_dict(orient="records")
    return sec


def _tests_section(ctx: _Context) -> Section:
    sec = Section(
        "comparison",
        "Comparing conditions",
        "Participant level: Welch's t-test and Mann-Whitney U on per-participant accuracy "
        "(paired t and Wilcoxon when participants saw several conditions), effect sizes with 95% CIs, "
        "Holm-adjusted p-values across pairs. Trial level: a population-averaged GEE logistic model "
        "(participant clusters) and a logistic mixed model with crossed random intercepts for "
        "participant and stimulus; both reported as odds ratios of condition b over a.",
    )
    if ctx.forward.empty:
        sec.notes.append("no forward-simulation trials: not enough data")
        return sec
    tests = _attempt(
        sec, "participant-level tests", lambda: compare_conditions(ctx.forward, levels=ctx.levels)
    )
    if tests is not None:
        sec.tables["participant_level_tests"] = tests
        ctx.summary["participant_level_tests"] = tests.to_dict(orient="records")
    gee = _attempt(sec, "GEE", lambda: fit_gee(ctx.forward, levels=ctx.levels))
    if gee is not None:
        sec.tables["gee_contrasts"] = gee.contrasts
        sec.notes.append(
            f"GEE working correlation (exchangeable): {gee.working_correlation:.3f}; "
            f"{gee.n_clusters} participant clusters."
        )
        ctx.summary["gee_contrasts"] = gee.contrasts.to_dict(orient="records")
    _glmm_into(ctx, sec)
    return sec


def _glmm_into(ctx: _Context, sec: Section) -> None:
    fit = _attempt(sec, "crossed GLMM", lambda: fit_crossed_glmm(ctx.forward, levels=ctx.levels))
    if fit is None:
        return
    contrasts = glmm_contrasts(fit)
    sec.tables["glmm_coefficients"] = fit.coefficients
    sec.tables["glmm_contrasts"] = contrasts
    sec.notes.append(
        f"Crossed GLMM: SD(participant) = {fit.sd_participant:.3f}, SD(stimulus) = "
        f"{fit.sd_stimulus:.3f} (log-odds); log-likelihood {fit.loglik:.2f}; "
        f"{fit.n_obs} trials, {fit.n_participants} participants, {fit.n_stimuli} stimuli."
    )
    sec.notes.extend(f"Crossed GLMM warning: {w}" for w in fit.warnings)
    ctx.summary["glmm_contrasts"] = contrasts.to_dict(orient="records")
    ctx.summary["glmm_random_effects"] = {
        "sd_participant": fit.sd_participant,
        "sd_stimulus": fit.sd_stimulus,
    }


def _sdt_section(ctx: _Context) -> Section:
    sec = Section(
        "signal_detection",
        "Verification: signal detection",
        "Verification trials ask whether the model was right. Hit = 'yes' when the model was right, "
        "false alarm = 'yes' when it was wrong; d' and criterion c use the log-linear correction, "
        "with Gourevitch-Galanter 95% intervals for d'.",
    )
    if ctx.verification.empty:
        sec.notes.append("no verification trials in this study")
        return sec
    table = _attempt(sec, "signal detection", lambda: signal_detection(ctx.verification))
    if table is not None:
        sec.tables["signal_detection"] = table
        ctx.summary["signal_detection"] = table.to_dict(orient="records")
    return sec


def _rt_section(ctx: _Context) -> Section:
    sec = Section(
        "response_times",
        "Response times",
        "Browser-measured response times of main trials. Model: log(rt) ~ condition + "
        "(1 | participant) + (1 | stimulus), REML; ratios are geometric-mean RT ratios.",
    )
    main = ctx.kept.trials
    if main["rt_ms"].notna().sum() == 0:
        sec.notes.append("no response times recorded")
        return sec
    sec.tables["rt_summary"] = rt_summary(main)
    sec.figure = figures.rt_figure(main, ctx.levels, ctx.figures_dir / "rt_distributions.png").name
    fit = _attempt(sec, "log-RT mixed model", lambda: fit_log_rt_model(main, levels=ctx.levels))
    if fit is not None:
        sec.tables["log_rt_model"] = fit.coefficients
        sec.notes.append(
            f"log-RT model: SD(participant) = {fit.sd_participant:.3f}, SD(stimulus) = "
            f"{fit.sd_stimulus:.3f}, residual SD = {fit.sd_residual:.3f} (log ms)"
            f"{'' if fit.converged else '; the optimiser did not report convergence'}."
        )
    return sec


def _ratings_section(ctx: _Context) -> Section:
    sec = Section(
        "ratings",
        "Helpfulness ratings (1-7)",
        "Ordinal summary per condition; rank tests on each participant's mean rating "
        "(Mann-Whitney U, or Wilcoxon when paired), Holm-adjusted across pairs.",
    )
    main = ctx.kept.trials
    if main["rating"].notna().sum() == 0:
        sec.notes.append("no ratings recorded")
        return sec
    sec.tables["rating_summary"] = rating_summary(main)
    tests = _attempt(sec, "rating tests", lambda: compare_ratings(main, levels=ctx.levels))
    if tests is not None:
        sec.tables["rating_tests"] = tests[
            [
                "a",
                "b",
                "design",
                "n_a",
                "n_b",
                "mean_a",
                "mean_b",
                "rank_statistic",
                "p_rank",
                "rank_biserial",
                "rb_ci_low",
                "rb_ci_high",
                "p_rank_holm",
            ]
        ]
    return sec


def _calibration_section(ctx: _Context) -> Section:
    sec = Section(
        "calibration",
        "Confidence calibration",
        "Accuracy of forward-simulation answers by stated confidence (bins of 20 points) with 95% "
        "Wilson intervals; expected calibration error (ECE) and Brier score per condition.",
    )
    data = (
        ctx.forward.loc[ctx.forward["confidence"].notna()] if not ctx.forward.empty else ctx.forward
    )
    if data.empty:
        sec.notes.append("no confidence ratings on forward trials")
        return sec
    table = confidence_calibration(data)
    sec.tables["calibration_bins"] = table
    sec.tables["calibration_summary"] = calibration_summary(data)
    sec.figure = figures.calibration_figure(
        table, ctx.levels, ctx.figures_dir / "confidence_calibration.png"
    ).name
    return sec


def _stimulus_section(ctx: _Context) -> Section:
    sec = Section(
        "stimuli",
        "Per-stimulus difficulty",
        "Accuracy per stimulus and condition (hardest first). 'helped'/'misled' marks stimuli whose "
        "Wilson intervals in the last and first condition do not overlap; the full table is in the CSV.",
    )
    if ctx.forward.empty:
        sec.notes.append("no forward-simulation trials: not enough data")
        return sec
    table = stimulus_difficulty(ctx.forward, levels=ctx.levels)
    sec.tables["stimulus_difficulty"] = table
    sec.figure = figures.stimulus_figure(
        table, ctx.levels, ctx.figures_dir / "stimulus_accuracy.png"
    ).name
    return sec


def _designs_section(ctx: _Context) -> Section:
    """Learning then test, cue detection and preference, each with the model that fits it."""
    sec = Section(
        "designs",
        "Design-specific analyses",
        "Learning then test: crossed mixed logit of test-block accuracy on condition with "
        "centred pre-test accuracy as covariate. Cue detection: accuracy (Wilson 95% CI) and "
        "two-alternative d' per condition. Preference: per pair of methods, mixed logit of "
        "choosing method b with its position (first = +0.5) as covariate.",
    )
    kept = ctx.export.trials["participant"].isin(set(ctx.kept.trials["participant"]))
    trials = ctx.export.trials.loc[kept]
    present = set(trials["design"])
    if "learning_test" in present:
        sec.tables["learning_test_summary"] = designs.learning_test_summary(trials)
        fit = _attempt(sec, "learning-test GLMM", lambda: designs.fit_learning_test(trials))
        if fit is not None:
            sec.tables["learning_test_glmm"] = fit.coefficients
            ctx.summary["learning_test_glmm"] = fit.coefficients.to_dict(orient="records")
    for design, name, make in (
        ("model_comparison", "cue_detection", designs.cue_detection),
        ("preference", "preference_model", designs.preference_model),
    ):
        if design in present:
            table = _attempt(sec, name.replace("_", " "), lambda make=make: make(trials))
            if table is not None:
                sec.tables[name] = table
                ctx.summary[name] = table.to_dict(orient="records")
    if not sec.tables and not sec.notes:
        sec.notes.append("single-explanation design: nothing design-specific to report")
    return sec


def _exclusion_section(ctx: _Context) -> Section:
    sec = Section(
        "exclusions",
        "Exclusions",
        "Rules applied in this order; each participant is counted under the first rule that removed "
        "them. Trials are main trials (practice excluded; catch trials used only for the catch rule).",
    )
    sec.tables["exclusion_flow"] = ctx.kept.flow
    sec.tables["excluded_participants"] = ctx.kept.excluded
    sec.figure = figures.exclusion_figure(
        ctx.kept.flow, ctx.figures_dir / "exclusion_flow.png"
    ).name
    return sec


def methods_paragraph(ctx: _Context, versions: dict[str, str]) -> str:
    """A paragraph stating exactly what was computed, ready to paste into a paper."""
    cfg = ctx.kept.config
    flow = ctx.kept.flow
    rules = "; ".join(
        f"{r.rule} ({r.participants_removed} participants, {r.trials_removed} trials)"
        for r in flow.iloc[1:].itertuples()
    )
    v = versions
    return (
        f"Data were read from a hearxai export (format version {ctx.export.description.get('export_version')}, "
        f"study '{ctx.export.study}'): {int(flow['participants_remaining'].iloc[0])} participants with "
        f"{int(flow['trials_remaining'].iloc[0])} main trials (practice trials are never analysed). "
        f"Exclusions were applied in this order: {rules}; settings {json.dumps(cfg.to_dict())}. "
        f"The analysis used {len(ctx.kept.participants)} participants and {len(ctx.kept.trials)} main trials "
        f"({len(ctx.forward)} forward-simulation, {len(ctx.verification)} verification) in conditions "
        f"{', '.join(ctx.levels) or 'none'} (reference: {ctx.levels[0] if ctx.levels else 'none'}). "
        "Forward-simulation accuracy (answer equal to the model's prediction) is reported per condition with "
        "95% Wilson score intervals, overall and separately for trials on which the model was right or wrong. "
        "Conditions were compared on per-participant accuracy with Welch's t-test (Hedges' g with a "
        "normal-approximation 95% CI) and the Mann-Whitney U test (rank-biserial correlation), or the paired "
        "t-test and Wilcoxon signed-rank test for within-participant designs; with more than two conditions, "
        "p-values were Holm-adjusted. At the trial level we fitted a logistic GEE with exchangeable working "
        "correlation within participants and robust standard errors (statsmodels), giving population-averaged "
        "odds ratios, and a logistic mixed model with crossed random intercepts for participants and stimuli, "
        "fitted by maximum likelihood with the Laplace approximation (hearxai's implementation, which agrees "
        "with lme4::glmer to within 5% on estimates and standard errors), giving conditional odds ratios with "
        "Wald 95% intervals from the observed information. Verification trials were summarised by hit and "
        "false-alarm rates, d' and criterion c (log-linear correction; Gourevitch-Galanter intervals). "
        "Response times were modelled as log(rt) ~ condition + (1 | participant) + (1 | stimulus) by REML "
        "(hearxai's implementation, which reproduces lme4::lmer), with Wald 95% intervals. Helpfulness ratings (1-7) are summarised by median and interquartile range and compared "
        "with rank tests on per-participant mean ratings. Confidence calibration is reported as accuracy per "
        "20-point confidence bin, expected calibration error and Brier score. Software: Python "
        f"{v['python']}, hearxai {v['hearxai']}, NumPy {v['numpy']}, SciPy {v['scipy']}, pandas {v['pandas']}, "
        f"statsmodels {v['statsmodels']}, Matplotlib {v['matplotlib']}."
    )


def _fmt_table(table: pd.DataFrame, max_rows: int = 40) -> pd.DataFrame:
    """Round floats to 4 significant digits and keep long tables readable."""
    shown = (
        table
        if len(table) <= max_rows
        else pd.concat([table.head(max_rows // 2), table.tail(max_rows // 2)])
    )
    out = shown.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda x: "" if pd.isna(x) else f"{x:.4g}")
    return out


def _render_html(
    title: str, sections: list[Section], methods: str, versions: dict[str, str]
) -> str:
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;font-size:12px;margin:.5em 0}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:right}th{background:#f2f2f2}.note{color:#8a4b00}"
        "img{max-width:100%;border:1px solid #eee}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Methods</h2>",
        f"<p>{html.escape(methods)}</p>",
    ]
    for sec in sections:
        parts.append(
            f"<h2 id='{sec.key}'>{html.escape(sec.title)}</h2><p>{html.escape(sec.intro)}</p>"
        )
        if sec.figure:
            parts.append(f"<p><img src='figures/{sec.figure}' alt='{html.escape(sec.title)}'></p>")
        for note in sec.notes:
            parts.append(f"<p class='note'>{html.escape(note)}</p>")
        for name, table in sec.tables.items():
            parts.append(
                f"<h3>{html.escape(name)} (<a href='tables/{name}.csv'>CSV</a>, {len(table)} rows)</h3>"
            )
            parts.append(_fmt_table(table).to_html(index=False, border=0, escape=True))
    listing = ", ".join(f"{k} {html.escape(v)}" for k, v in versions.items())
    parts.append(f"<h2>Software</h2><p>{listing}</p></body></html>")
    return "\n".join(parts)


def _render_markdown(
    title: str, sections: list[Section], methods: str, versions: dict[str, str]
) -> str:
    lines = [f"# {title}", "", "## Methods", "", methods, ""]
    for sec in sections:
        lines += [f"## {sec.title}", "", sec.intro, ""]
        if sec.figure:
            lines += [f"![{sec.title}](figures/{sec.figure})", ""]
        lines += [f"> {note}" for note in sec.notes] + ([""] if sec.notes else [])
        for name, table in sec.tables.items():
            lines += [
                f"### {name} ([CSV](tables/{name}.csv), {len(table)} rows)",
                "",
                _markdown_table(table),
                "",
            ]
    lines += ["## Software", "", ", ".join(f"{k} {v}" for k, v in versions.items()), ""]
    return "\n".join(lines)


def _markdown_table(table: pd.DataFrame) -> str:
    shown = _fmt_table(table).astype(str)
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"
    rows = ["| " + " | ".join(v.replace("|", "/") for v in row) + " |" for row in shown.to_numpy()]
    return "\n".join([header, rule, *rows])


def _check_target(out: Path) -> None:
    """Refuse to replace a folder that is not empty and not a previous report."""
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / _REPORT_MARKER).exists())
    ):
        raise ValueError(f"{out}: exists and is not a previous report; choose another --out")


def _prepare_target(out: Path) -> Path:
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))


def _context(export: Export, config: ExclusionConfig | None, figures_dir: Path) -> _Context:
    if not (export.trials["trial_kind"] == "main").any():
        raise ExportError(f"{export.path}: empty study (no main trials)")
    kept = apply_exclusions(export.trials, export.participants, config)
    main = kept.trials
    levels = condition_levels(main["condition"]) if len(main) else []
    return _Context(
        export,
        kept,
        main.loc[main["task"] == "forward"].reset_index(drop=True),
        main.loc[main["task"] == "verification"].reset_index(drop=True),
        levels,
        figures_dir,
    )


_SECTIONS: tuple[tuple[str, Callable[[_Context], Section]], ...] = (
    ("exclusions", _exclusion_section),
    ("accuracy", _accuracy_section),
    ("comparisons (GEE, crossed GLMM)", _tests_section),
    ("signal detection", _sdt_section),
    ("response times", _rt_section),
    ("ratings", _ratings_section),
    ("calibration", _calibration_section),
    ("stimuli", _stimulus_section),
    ("designs", _designs_section),
)


def build_report(
    export_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    config: ExclusionConfig | None = None,
    formats: Sequence[str] = ("html",),
    progress: bool = True,
) -> Path:
    """Analyse an export and write the report folder; returns the report folder.

    Parameters
    ----------
    export_dir : export v1 folder.
    out_dir : report folder (created; replaced if it holds a previous report).
    config : exclusion rules (default ``ExclusionConfig()``).
    formats : any of "html", "md".
    progress : show a progress bar on stderr.

    Raises
    ------
    ExportError on an unreadable export; ValueError on bad arguments.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"unknown report format {unknown or formats}; choose from {list(FORMATS)}")
    out = Path(out_dir)
    _check_target(out)
    bar = tqdm(total=len(_SECTIONS) + 2, desc="report", unit="step", disable=not progress)
    bar.set_postfix_str("reading export")
    export = load_export(export_dir)
    tmp = _prepare_target(out)
    try:
        (tmp / "figures").mkdir()
        (tmp / "tables").mkdir()
        ctx = _context(export, config, tmp / "figures")
        bar.update()
        sections = []
        for label, make in _SECTIONS:
            bar.set_postfix_str(label)
            sections.append(make(ctx))
            bar.update()
        bar.set_postfix_str("writing")
        _write(tmp, ctx, sections, formats)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        bar.update()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        bar.close()
    return out


def _write(tmp: Path, ctx: _Context, sections: list[Section], formats: Sequence[str]) -> None:
    versions = software_versions()
    methods = methods_paragraph(ctx, versions)
    title = f"Analysis of study '{ctx.export.study}'"
    for sec in sections:
        for name, table in sec.tables.items():
            table.to_csv(tmp / "tables" / f"{name}.csv", index=False)
    if "html" in formats:
        (tmp / "report.html").write_text(
            _render_html(title, sections, methods, versions), encoding="utf-8"
        )
    if "md" in formats:
        (tmp / "report.md").write_text(
            _render_markdown(title, sections, methods, versions), encoding="utf-8"
        )
    summary = {
        "study": ctx.export.study,
        "export": str(ctx.export.path),
        "export_version": ctx.export.description.get("export_version"),
        "n_participants": len(ctx.kept.participants),
        "n_main_trials": len(ctx.kept.trials),
        "levels": ctx.levels,
        "exclusions": ctx.kept.config.to_dict(),
        "exclusion_flow": ctx.kept.flow.to_dict(orient="records"),
        "software": versions,
        "methods": methods,
        "notes": {s.key: s.notes for s in sections if s.notes},
        **ctx.summary,
    }
    (tmp / _REPORT_MARKER).write_text(
        json.dumps(summary, indent=2, default=_json_default) + "\n", encoding="utf-8"
    )


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
