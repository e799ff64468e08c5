"""The participant path and the researcher commands, end to end inside Django."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from studyapp.bots import Bot, DjangoClientTransport
from studyapp.models import Participant, Response, Study, Trial
from studyapp.services.participants import (
    Answer,
    AnswerRejected,
    participant_consent,
    participant_enroll,
    response_record,
)
from tests.studyapp.participant_helpers import listen_to

pytestmark = pytest.mark.django_db


def _ready(study: Study, label: str) -> Participant:
    participant, _ = participant_enroll(study=study, recruitment={"participant_label": label})
    participant_consent(participant=participant, agree=True)
    return participant


def test_a_bot_completes_the_study_through_the_real_pages(study: Study) -> None:
    result = Bot(DjangoClientTransport(), study.slug, "b1", random.Random(1)).run()
    assert result.completed, result.pages
    participant = Participant.objects.get(participant_label="b1")
    assert participant.status == Participant.Status.COMPLETED
    assert (
        Response.objects.filter(trial__participant=participant).count()
        == study.n_trials
        == result.answers
    )


def test_it_stores_a_repeated_submission_once_and_refuses_a_different_second_answer(
    study: Study,
) -> None:
    participant = _ready(study, "p1")
    first = Answer(
        answer="3", rt_ms=1200.0, submission_key="key-00000001", events=listen_to(participant, 1)
    )
    _, created = response_record(participant=participant, position=1, answer=first)
    _, created_again = response_record(participant=participant, position=1, answer=first)
    assert (created, created_again) == (True, False)
    with pytest.raises(AnswerRejected, match="already been answered"):
        response_record(
            participant=participant,
            position=1,
            answer=Answer(answer="4", submission_key="key-00000002"),
        )
    assert Response.objects.filter(trial__participant=participant).count() == 1


def test_it_refuses_answers_out_of_order_and_outside_the_options(study: Study) -> None:
    participant = _ready(study, "p2")
    with pytest.raises(AnswerRejected, match="in order"):
        response_record(
            participant=participant, position=2, answer=Answer(answer="1", submission_key="k" * 10)
        )
    with pytest.raises(AnswerRejected, match="not one of the options"):
        response_record(
            participant=participant,
            position=1,
            answer=Answer(answer="eleven", submission_key="k" * 10),
        )


def test_the_same_recruitment_id_resumes_the_same_session(study: Study) -> None:
    first, created = participant_enroll(study=study, recruitment={"prolific_pid": "abc123"})
    again, created_again = participant_enroll(study=study, recruitment={"prolific_pid": "abc123"})
    assert first.pk == again.pk and created and not created_again


def test_assignment_keeps_the_conditions_balanced(study: Study) -> None:
    for i in range(10):
        _ready(study, f"x{i}")
    counts = sorted(Participant.objects.values_list("condition__name", flat=True))
    assert counts.count("visual") == counts.count("audible") == 5


def test_forward_simulation_is_scored_against_the_models_prediction(study: Study) -> None:
    participant = _ready(study, "p3")
    trial = Trial.objects.get(participant=participant, position=1)
    predicted = trial.stimulus.predicted_label
    answer = Answer(answer=predicted, submission_key="abcdefgh", events=listen_to(participant, 1))
    response, _ = response_record(participant=participant, position=1, answer=answer)
    assert response.answer_correct is True


def test_export_writes_every_answer_once_with_the_contract_columns(
    study: Study, tmp_path: Path
) -> None:
    from contracts import export_format as fmt

    call_command("simulate_participants", study=study.slug, n=3, accuracy=1.0)
    out = tmp_path / "export"
    call_command("export_responses", study=study.slug, out=str(out))
    with open(out / fmt.TRIALS_FILE, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == fmt.column_names(fmt.TRIALS_FILE)
    assert len(rows) == Response.objects.count() == 3 * study.n_trials
    assert len({(r["participant"], r["trial_position"]) for r in rows}) == len(rows)
    assert all(r["answer_correct"] == "true" for r in rows)


def test_export_refuses_to_overwrite_a_folder_with_files(study: Study, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(CommandError, match="not empty"):
        call_command("export_responses", study=study.slug, out=str(tmp_path))
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_import_command_reports_every_problem_of_a_broken_bundle(
    db: None, media_root: Path, tmp_path: Path
) -> None:
    from tests.synthetic_bundle import write_synthetic_bundle

    bundle_dir = write_synthetic_bundle(tmp_path / "broken", n=12)
    files = sorted((bundle_dir / "files").glob("*.wav"))
    files[0].write_bytes(b"not a wav at all")
    files[1].unlink()
    with pytest.raises(CommandError) as info:
        call_command("import_bundle", str(bundle_dir), study="broken")
    assert "checksum mismatch" in str(info.value) and "file is missing" in str(info.value)
    assert not Study.objects.exists()
    assert not media_root.exists() or not any(media_root.rglob("*.wav"))
