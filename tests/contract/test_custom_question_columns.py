"""Contract: custom-question columns travel from the study site to the analysis typed as
their codebook says (a number question's answers are numbers, a Likert's are integers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import load_export
from analysis.io import ExportError
from contracts import export_format as fmt
from studyapp.models import Bundle, Question
from studyapp.services.exports import export_write
from studyapp.services.questions import participant_questions_save
from tests.studyapp.research_helpers import answer, bundle_with, enrol, study_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def bundle(media_root: Path, tmp_path: Path) -> Bundle:
    return bundle_with(tmp_path, n=30)


def _export(bundle: Bundle, out: Path) -> Path:
    study = study_on(bundle, "typed", n_trials=2)
    Question.objects.create(
        study=study, column="hours", text="Hours?", kind="number", minimum=0, maximum=24
    )
    Question.objects.create(
        study=study, column="effort", text="Effort?", kind="likert", options="Low\nMid\nHigh"
    )
    Question.objects.create(
        study=study, column="music", text="Music?", kind="single_choice", options="no\nyes"
    )
    for i, (hours, effort) in enumerate([(2.5, 3), (None, 1)]):
        participant = enrol(study, f"p{i}")
        participant_questions_save(
            participant=participant,
            placement="before",
            answers={"hours": hours, "effort": effort, "music": "yes"},
        )
        answer(participant, seed=i)
    export_write(study=study, out_dir=out)
    return out


def test_the_analysis_reads_custom_question_columns_by_their_codebook_types(
    bundle: Bundle, tmp_path: Path
) -> None:
    export = load_export(_export(bundle, tmp_path / "export"))
    people = export.participants.set_index("participant").sort_index()
    assert people["hours"].dtype == "float64" and people["hours"].isna().sum() == 1
    assert sorted(people["effort"].tolist()) == [1.0, 3.0]
    assert set(people["music"]) == {"yes"}


def test_a_custom_question_cell_that_breaks_its_codebook_type_is_named(
    bundle: Bundle, tmp_path: Path
) -> None:
    out = _export(bundle, tmp_path / "export")
    file = out / fmt.PARTICIPANTS_FILE
    lines = file.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("effort")] = "9"  # not a point of the three-point scale
    file.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(ExportError, match=r"column 'effort' line 2: '9' is not one of"):
        load_export(out)
