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
from collections.abc import Sequence
from dataclasses import asdict, replace
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from analysis._checks import check_columns
from analysis._contrasts import condition_levels
from analysis.exclusions import ExclusionConfig, apply_exclusions
from analysis.io import Export, ExportError, load_export
from analysis.sections import SECTIONS, Context, ReportOptions, Section
from analysis.text import readable

_REPORT_MARKER = "report.json"
FORMATS = ("html", "md")


def software_versions() -> dict[str, str]:
    """Versions of Python and of every library the numbers depend on."""
    versions = {"python": platform.python_version()}
    for name in ("hearxai", "numpy", "scipy", "pandas", "statsmodels", "matplotlib"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def methods_text(ctx: Context, sections: list[Section], versions: dict[str, str]) -> str:
    """The methods paragraph: only what was run, in the order of the sections."""
    head = (
        f"Data were read from a hearxai export (format version "
        f"{ctx.export.description.get('export_version')}, study '{ctx.export.study}'); practice "
        "trials are never analysed."
    )
    conditions = (
        f"Conditions: {', '.join(ctx.levels)} (reference: {ctx.levels[0]})."
        if ctx.levels
        else "No condition remained after exclusions."
    )
    v = versions
    software = (
        f"Analyses used Python {v['python']}, hearxai {v['hearxai']}, NumPy {v['numpy']}, "
        f"SciPy {v['scipy']}, pandas {v['pandas']}, statsmodels {v['statsmodels']} and "
        f"Matplotlib {v['matplotlib']}; tests are two-sided at alpha = {ctx.options.alpha:g}."
    )
    body = [m for sec in sections for m in sec.methods]
    return " ".join([head, body[0] if body else "", conditions, *body[1:], software]).replace(
        "  ", " "
    )


def results_text(sections: list[Section]) -> str:
    """The results paragraph: each sentence names the table its numbers come from."""
    sentences = [r for sec in sections for r in sec.results]
    return " ".join(sentences) if sentences else "No model could be estimated from these data."


_STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;font-size:12px;margin:.5em 0}td,th{border:1px solid #ccc;"
    "padding:2px 6px;text-align:right}th{background:#f2f2f2}.note{color:#8a4b00}"
    "figcaption{font-size:13px;color:#444;max-width:800px}img{max-width:100%;border:1px solid #eee}"
)


def _render_html(title: str, sections: list[Section], text: dict[str, str]) -> str:
    esc = html.escape
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{esc(title)}</h1>",
        f"<h2>Methods</h2><p>{esc(text['methods'])}</p>",
        f"<h2>Results</h2><p>{esc(text['results'])}</p>",
    ]
    for number, sec in enumerate(sections, start=1):
        parts.append(f"<h2 id='{sec.key}'>{number}. {esc(sec.title)}</h2>")
        if sec.intro:
            parts.append(f"<p>{esc(sec.intro)}</p>")
        if sec.figure:
            parts.append(
                f"<figure><img src='figures/{sec.figure}' alt='{esc(sec.title)}'>"
                f"<figcaption><b>Figure {number}.</b> {esc(sec.caption)}</figcaption></figure>"
            )
        parts += [f"<p class='note'>{esc(note)}</p>" for note in sec.notes]
        for name, table in sec.tables.items():
            parts.append(
                f"<h3>{esc(name)} (<a href='tables/{name}.csv'>CSV</a>, {len(table)} rows)</h3>"
            )
            parts.append(readable(table).to_html(index=False, border=0, escape=True))
    listing = ", ".join(f"{k} {esc(v)}" for k, v in text["versions"].items())
    parts.append(f"<h2>Software</h2><p>{listing}</p></body></html>")
    return "\n".join(parts)


def _render_markdown(title: str, sections: list[Section], text: dict[str, str]) -> str:
    lines = [f"# {title}", "", "## Methods", "", text["methods"], "", "## Results", ""]
    lines += [text["results"], ""]
    for number, sec in enumerate(sections, start=1):
        lines += [f"## {number}. {sec.title}", ""] + ([sec.intro, ""] if sec.intro else [])
        if sec.figure:
            lines += [f"![{sec.title}](figures/{sec.figure})", ""]
            lines += [f"*Figure {number}.* {sec.caption}", ""]
        lines += [f"> {note}" for note in sec.notes] + ([""] if sec.notes else [])
        for name, table in sec.tables.items():
            lines += [f"### {name} ([CSV](tables/{name}.csv), {len(table)} rows)", ""]
            lines += [_markdown_table(table), ""]
    lines += ["## Software", "", ", ".join(f"{k} {v}" for k, v in text["versions"].items()), ""]
    return "\n".join(lines)


def _markdown_table(table: pd.DataFrame) -> str:
    shown = readable(table).astype(str)
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"
    # "\|" is a literal bar inside a cell (GitHub Markdown), e.g. a threshold "3|4".
    rows = [
        "| " + " | ".join(v.replace("|", "\\|") for v in row) + " |" for row in shown.to_numpy()
    ]
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


def _check_options(export: Export, options: ReportOptions) -> None:
    """Bad command-line choices fail before any work, naming the problem."""
    check_columns(export.trials, list(options.interactions), where="trials.csv (--interaction)")
    check_columns(export.trials, list(options.covariates), where="trials.csv (--covariate)")
    main = export.trials.loc[export.trials["trial_kind"] == "main"]
    for name in options.covariates:
        column = main[name]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            raise ValueError(
                f"--covariate {name}: not a numeric or boolean column ({column.dtype})"
            )
        if column.isna().any():
            raise ValueError(f"--covariate {name}: empty on {int(column.isna().sum())} main trials")
    if options.equivalence_bound is not None and not options.equivalence_bound > 1:
        raise ValueError(
            f"--equivalence-bound must be an odds ratio above 1, got {options.equivalence_bound}"
        )
    if options.adjust not in ("holm", "tukey"):
        raise ValueError(f"--adjust must be holm or tukey, got {options.adjust!r}")


def _context(
    export: Export, config: ExclusionConfig | None, figures_dir: Path, options: ReportOptions
) -> Context:
    if not (export.trials["trial_kind"] == "main").any():
        raise ExportError(f"{export.path}: empty study (no main trials)")
    # Trials grouped by task (stable, so each task keeps the export's order): the
    # forward and verification trials are then slices of the kept trials, which pandas
    # shares rather than copies (about 300 MiB saved per copy of a 20,000-participant export).
    rank = export.trials["task"].map({"forward": 0, "verification": 1}).fillna(2).to_numpy()
    export = replace(
        export, trials=export.trials.take(np.argsort(rank, kind="stable")).reset_index(drop=True)
    )
    kept = apply_exclusions(export.trials, export.participants, config)
    main = kept.trials
    n_forward = int((main["task"] == "forward").sum())
    n_verification = int((main["task"] == "verification").sum())
    levels = condition_levels(main["condition"]) if len(main) else []
    return Context(
        export,
        kept,
        main.iloc[:n_forward],
        main.iloc[n_forward : n_forward + n_verification].reset_index(drop=True),
        levels,
        figures_dir,
        options,
    )


def build_report(
    export_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    config: ExclusionConfig | None = None,
    options: ReportOptions | None = None,
    formats: Sequence[str] = ("html",),
    progress: bool = True,
) -> Path:
    """Analyse an export and write the report folder; returns the report folder.

    Parameters
    ----------
    export_dir : export v1 folder.
    out_dir : report folder (created; replaced if it holds a previous report).
    config : exclusion rules (default ``ExclusionConfig()``).
    options : covariates, equivalence bound, adjustment (default ``ReportOptions()``).
    formats : any of "html", "md".
    progress : show a progress bar on stderr.

    Raises
    ------
    ExportError on an unreadable export; ValueError on bad arguments.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"unknown report format {unknown or formats}; choose from {list(FORMATS)}")
    options = options or ReportOptions()
    out = Path(out_dir)
    _check_target(out)
    bar = tqdm(total=len(SECTIONS) + 2, desc="report", unit="step", disable=not progress)
    bar.set_postfix_str("reading export")
    export = load_export(export_dir)
    _check_options(export, options)
    tmp = _prepare_target(out)
    try:
        (tmp / "figures").mkdir()
        (tmp / "tables").mkdir()
        ctx = _context(export, config, tmp / "figures", options)
        del export  # ctx holds a task-ordered copy of the trials: let the original go
        bar.update()
        sections = []
        for label, make in SECTIONS:
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


def _write(tmp: Path, ctx: Context, sections: list[Section], formats: Sequence[str]) -> None:
    versions = software_versions()
    text = {
        "methods": methods_text(ctx, sections, versions),
        "results": results_text(sections),
        "versions": versions,
    }
    title = f"Analysis of study '{ctx.export.study}'"
    for sec in sections:
        for name, table in sec.tables.items():
            table.to_csv(tmp / "tables" / f"{name}.csv", index=False)
    if "html" in formats:
        (tmp / "report.html").write_text(_render_html(title, sections, text), encoding="utf-8")
    if "md" in formats:
        (tmp / "report.md").write_text(_render_markdown(title, sections, text), encoding="utf-8")
    summary = {
        "study": ctx.export.study,
        "export": str(ctx.export.path),
        "export_version": ctx.export.description.get("export_version"),
        "n_participants": len(ctx.kept.participants),
        "n_main_trials": len(ctx.kept.trials),
        "levels": ctx.levels,
        "options": asdict(ctx.options),
        "exclusions": ctx.kept.config.to_dict(),
        "exclusion_flow": ctx.kept.flow.to_dict(orient="records"),
        "software": versions,
        "methods": text["methods"],
        "results": text["results"],
        "captions": {s.key: s.caption for s in sections if s.caption},
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
