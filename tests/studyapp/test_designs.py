"""The study designs beyond one explanation per trial: planning, answers, refusals, warnings."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from studyapp.models import Bundle, ImportJob, Study, Trial
from studyapp.services.bundles import bundle_import
from studyapp.services.jobs import import_job_create
from studyapp.services.participants import answer_is_correct
from studyapp.services.studies import study_create, study_design_report
from tests.studyapp.participant_helpers import consented
from tests.synthetic_bundle import write_synthetic_bundle

METHODS = ("lrp-epsilon-plus-flat", "gradient-x-input")


@pytest.fixture(scope="module")
def cue_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two methods, half the main clips cue-conflict, a cued and a control model."""
    return write_synthetic_bundle(
        tmp_path_factory.mktemp("cue") / "b",
        n=30,
        methods=METHODS,
        share_cue=0.5,
        control_model=True,
        heard_label_baseline=0.95,
    )


@pytest.fixture
def cue_bundle(db: None, media_root: Path, cue_bundle_dir: Path) -> Bundle:
    return bundle_import(bundle_dir=cue_bundle_dir)


def _study(bundle: Bundle, design: str, **fields: object) -> Study:
    return study_create(
        slug=design.replace("_", "-"),
        title=design,
        bundle=bundle,
        status=Study.Status.LIVE,
        design=design,
        consent_text="Consent.",
        modalities=["visual", "audible"],
        **fields,
    )


def _trials(study: Study, label: str) -> list[Trial]:
    participant = consented(study, label)
    return list(participant.trials.select_related("stimulus", "partner").order_by("position"))


@pytest.mark.django_db
def test_learning_then_test_runs_pretest_learning_and_test_blocks_on_recordings_never_repeated(
    cue_bundle: Bundle,
) -> None:
    study = _study(cue_bundle, "learning_test", n_trials=6, n_pretest=3, n_learning=4)
    trials = _trials(study, "p1")
    kinds = [t.kind for t in trials]
    assert kinds == ["pretest"] * 3 + ["learning"] * 4 + ["main"] * 6
    recordings = [t.stimulus.source_recording for t in trials]
    assert len(set(recordings)) == len(recordings), "a test-block recording was seen before"


@pytest.mark.django_db
def test_cue_detection_pairs_the_cued_and_the_control_explanation_of_one_clip_in_balanced_order(
    cue_bundle: Bundle,
) -> None:
    study = _study(cue_bundle, "model_comparison", n_trials=8, ask_confidence=True)
    trials = _trials(study, "p1")
    assert len(trials) == 8
    cued_first = 0
    for trial in trials:
        assert trial.partner is not None
        assert trial.partner.source_recording == trial.stimulus.source_recording
        assert trial.partner.method == trial.stimulus.method
        assert {trial.stimulus.model_id, trial.partner.model_id} == {"", "control"}
        cued_first += trial.stimulus.model_id == ""
        right = "first" if trial.stimulus.model_id == "" else "second"
        wrong = "second" if right == "first" else "first"
        assert answer_is_correct(trial, right) and not answer_is_correct(trial, wrong)
    assert cued_first == 4, "the cued model's explanation must come first on exactly half"


@pytest.mark.django_db
def test_preference_pairs_two_methods_explaining_the_same_decision(cue_bundle: Bundle) -> None:
    study = _study(cue_bundle, "preference", n_trials=6)
    trials = _trials(study, "p1")
    assert len(trials) == 6
    for trial in trials:
        assert trial.partner is not None and trial.partner.pk != trial.stimulus.pk
        assert trial.partner.source_recording == trial.stimulus.source_recording
        assert {trial.stimulus.method, trial.partner.method} == set(METHODS)
        assert trial.stimulus.model_id == trial.partner.model_id == ""
    assert sum(t.stimulus.method == METHODS[0] for t in trials) == 3


@pytest.mark.django_db
def test_cue_detection_on_a_bundle_with_one_model_is_refused_with_the_reason(
    bundle: Bundle,
) -> None:
    with pytest.raises(ValidationError, match="cue detection compares two models"):
        _study(bundle, "model_comparison")
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_preference_on_a_bundle_with_one_method_is_refused_with_the_reason(bundle: Bundle) -> None:
    with pytest.raises(ValidationError, match="preference compares two explanation methods"):
        _study(bundle, "preference")


@pytest.mark.django_db
def test_explanation_only_with_a_condition_showing_no_explanation_is_refused(
    bundle: Bundle,
) -> None:
    with pytest.raises(ValidationError, match="explanation only hides the recording"):
        study_create(
            slug="eo",
            title="eo",
            bundle=bundle,
            explanation_only=True,
            modalities=["none", "audible"],
            consent_text="Consent.",
        )


@pytest.mark.django_db
def test_learning_then_test_without_learning_trials_is_refused(bundle: Bundle) -> None:
    with pytest.raises(ValidationError, match="at least one learning trial"):
        _study(bundle, "learning_test", n_learning=0)


@pytest.mark.django_db
def test_a_high_heard_label_baseline_is_a_warning_of_the_import_job_and_the_study_page(
    media_root: Path, cue_bundle_dir: Path
) -> None:
    job = import_job_create(source=cue_bundle_dir)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert "heard-label baseline for forward_simulation is 95%" in job.message
    study = _study(job.bundle, "single", n_trials=6)
    warnings = study_design_report(study=study).warnings
    assert any("heard-label baseline" in w for w in warnings), warnings


@pytest.mark.django_db
def test_a_modest_heard_label_baseline_gives_no_warning(bundle: Bundle) -> None:
    study = _study(bundle, "single", n_trials=6)
    assert not any("heard-label" in w for w in study_design_report(study=study).warnings)
