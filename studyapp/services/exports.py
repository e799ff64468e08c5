"""Writing export v1 (see ``contracts/export_format.py`` and ``docs/export-format.md``).

Rows come from ``selectors.exports`` as a stream and are written as they come, so
memory stays flat however large the study is. Files are written into a temporary
folder that is renamed into place only when complete.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from contracts import export_format as fmt
from studyapp.models import Study
from studyapp.selectors.exports import (
    event_rows,
    export_row_counts,
    participant_rows,
    trial_rows,
)
from studyapp.selectors.questions import study_question_columns


@dataclass(frozen=True)
class ExportSummary:
    out_dir: Path
    n_trials: int
    n_participants: int
    n_events: int


def _write_csv(
    path: Path,
    columns: tuple[fmt.Column, ...],
    rows: Iterable[dict[str, Any]],
    total: int | None = None,
    progress: bool = False,
) -> int:
    count = 0
    rows = tqdm(
        rows, desc=path.name, total=total, unit="row", disable=not progress or None, leave=False
    )
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([col.name for col in columns])
        for row in rows:
            # The contract's codec: the analysis reads these cells with the same rules.
            writer.writerow([fmt.encode_cell(row.get(col.name), col.dtype) for col in columns])
            count += 1
    return count


def export_write(
    *,
    study: Study,
    out_dir: Path,
    include_pilot: bool = False,
    include_recruitment_ids: bool = False,
    progress: bool = False,
) -> ExportSummary:
    """Write the export of ``study`` into ``out_dir`` (created; must not exist or be empty).

    Parameters
    ----------
    study : the study to export.
    out_dir : new folder for trials.csv, participants.csv, events.csv, dataset_description.json.
    include_pilot : also export sessions collected while the study was in pilot mode.
    include_recruitment_ids : add the recruiter's ids (e.g. Prolific ids) to participants.csv.
    progress : show a progress bar per file on stderr.
    """
    sizes = export_row_counts(study, include_pilot=include_pilot) if progress else {}
    questions = study_question_columns(study=study)
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir}: folder exists and is not empty")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir.parent))
    try:
        n_trials = _write_csv(
            tmp / fmt.TRIALS_FILE,
            fmt.file_columns(fmt.TRIALS_FILE),
            trial_rows(study, include_pilot=include_pilot),
            sizes.get("trials"),
            progress,
        )
        n_participants = _write_csv(
            tmp / fmt.PARTICIPANTS_FILE,
            fmt.file_columns(
                fmt.PARTICIPANTS_FILE,
                with_recruitment_ids=include_recruitment_ids,
                questions=questions,
            ),
            participant_rows(study, include_pilot=include_pilot, with_ids=include_recruitment_ids),
            sizes.get("participants"),
            progress,
        )
        n_events = _write_csv(
            tmp / fmt.EVENTS_FILE,
            fmt.file_columns(fmt.EVENTS_FILE),
            event_rows(study, include_pilot=include_pilot),
            sizes.get("events"),
            progress,
        )
        codebook = fmt.codebook(
            study=study.slug,
            title=study.title,
            with_recruitment_ids=include_recruitment_ids,
            questions=questions,
        )
        codebook["include_pilot"] = include_pilot
        (tmp / fmt.CODEBOOK_FILE).write_text(
            json.dumps(codebook, indent=2) + "\n", encoding="utf-8"
        )
        if out_dir.exists():
            out_dir.rmdir()
        tmp.replace(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportSummary(out_dir, n_trials, n_participants, n_events)
