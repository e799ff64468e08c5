"""The demo's output: what the study measures and its heard-label baseline, in two lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from studyapp.models import Study
from tests.synthetic_bundle import write_synthetic_bundle

pytestmark = pytest.mark.django_db


def test_the_demo_study_has_practice_an_attention_check_and_the_headphone_screen_and_says_what_it_measures(
    media_root: Path, tmp_path: Path, settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.DATA_DIR = tmp_path  # type: ignore[attr-defined]  # the admin password file
    bundle = write_synthetic_bundle(
        tmp_path / "bundle", n=30, share_wrong=0.25, share_cue=0.2, heard_label_baseline=0.6
    )
    call_command(
        "import_bundle",
        str(bundle),
        study="demo",
        trials=8,
        practice=2,
        catch=1,
        headphone_screen=True,
    )
    study = Study.objects.get(slug="demo")
    assert (study.n_practice, study.n_catch, study.headphone_screen) == (2, 1, True)
    capsys.readouterr()
    call_command("demo_setup", study="demo", port=8123)
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    measures = next(line for line in lines if line.startswith("Measures: "))
    # 28 main decisions; every 4th is wrong or follows its cue (cue-conflict: also wrong).
    assert measures.startswith("Measures: forward simulation accuracy with explanations")
    assert "on 28 decisions of the model" in measures and "following a planted cue" in measures
    assert (
        "Heard-label baseline (forward_simulation): 60%, the accuracy of answering the spoken "
        "digit without any explanation"
    ) in lines
    assert any(line.startswith("Participant link: http://127.0.0.1:8123/s/demo/") for line in lines)
