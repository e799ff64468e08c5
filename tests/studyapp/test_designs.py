"""The study designs beyond one explanation per trial: planning, answers, refusals, warnings."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from analysis.report import build_report
from contracts import export_format as fmt
from studyapp.models import Bundle, ImportJob, Stimulus, Study, Trial
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
        assert answer_is_correct(trial, answer=right) and not answer_is_correct(trial, answer=wrong)
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


def _exported_rows(slug: str, out: Path) -> list[dict[str, str]]:
    call_command("export_responses", study=slug, out=str(out))
    with open(out / fmt.TRIALS_FILE, newline="", encoding="utf-8") as handle:
        return [r for r in csv.DictReader(handle) if r["trial_kind"] == "main"]


@pytest.mark.django_db
@pytest.mark.usefixtures("seeded_enrolment")
def test_cue_detection_runs_through_the_pages_and_the_export_with_both_explanations(
    cue_bundle: Bundle, tmp_path: Path
) -> None:
    _study(cue_bundle, "model_comparison", n_trials=8, ask_confidence=True)
    call_command(
        "simulate_participants",
        study="model-comparison",
        n=4,
        strategy="explanation",
        lapse=0.0,
        seed=1,
    )
    rows = _exported_rows("model-comparison", tmp_path / "export")
    assert len(rows) == 32
    assert {r["task"] for r in rows} == {"model_comparison"}
    assert {r["design"] for r in rows} == {"model_comparison"}
    assert all(r["partner_stimulus"] and r["confidence"] for r in rows)
    assert {frozenset((r["model_id"], r["partner_model_id"])) for r in rows} == {
        frozenset(("", "control"))
    }
    # Only a clip with a cue can tell the models apart; there, reading the relevance finds the cued one.
    cued = set(
        Stimulus.objects.filter(bundle=cue_bundle, cue__present=True).values_list(
            "source_recording", flat=True
        )
    )
    on_cue = [r for r in rows if r["source_recording"] in cued]
    assert len(on_cue) >= 6
    assert all(r["answer_correct"] == "true" for r in on_cue)
    off_cue = [r for r in rows if r["source_recording"] not in cued]
    assert 0 < sum(r["answer_correct"] == "true" for r in off_cue) < len(off_cue), "a guess there"
    report = build_report(tmp_path / "export", tmp_path / "report", progress=False)
    summary = json.loads((report / "report.json").read_text(encoding="utf-8"))
    by_condition = {r["condition"]: r for r in summary["cue_detection"]}
    assert set(by_condition) == {"visual", "audible"}
    for entry in by_condition.values():
        mine = [r for r in rows if r["condition"] == entry["condition"]]
        assert entry["n_correct"] == sum(r["answer_correct"] == "true" for r in mine)


@pytest.mark.django_db
def test_learning_then_test_is_exported_block_by_block(cue_bundle: Bundle, tmp_path: Path) -> None:
    _study(cue_bundle, "learning_test", n_trials=4, n_pretest=2, n_learning=3)
    call_command("simulate_participants", study="learning-test", n=2, strategy="heard", seed=1)
    call_command("export_responses", study="learning-test", out=str(tmp_path / "e"))
    with open(tmp_path / "e" / fmt.TRIALS_FILE, newline="", encoding="utf-8") as handle:
        kinds = [r["trial_kind"] for r in csv.DictReader(handle)]
    assert kinds.count("pretest") == 4 and kinds.count("learning") == 6
    assert kinds.count("main") == 8


@pytest.mark.django_db
def test_simulate_participants_refuses_a_strategy_together_with_an_accuracy(study: Study) -> None:
    with pytest.raises(CommandError, match="--strategy and --accuracy exclude each other"):
        call_command("simulate_participants", study=study.slug, n=1, strategy="heard", accuracy=0.5)


@pytest.mark.django_db
def test_the_admin_preview_shows_both_explanations_of_a_cue_detection_trial(
    cue_bundle: Bundle, client: Client
) -> None:
    client.force_login(
        get_user_model().objects.create_user("staff", password="x-123456789", is_staff=True)
    )
    study = _study(cue_bundle, "model_comparison", n_trials=4, ask_confidence=True)
    page = client.get(
        reverse("preview_numbered", args=[study.slug, "audible", "trial", 1])
    ).content.decode()
    assert 'id="play-explanation"' in page and 'id="play-partner"' in page
    assert 'value="first"' in page and 'value="second"' in page
    assert not Trial.objects.exists(), "a preview saves nothing"


@pytest.mark.django_db
def test_the_admin_preview_gives_learning_trials_their_feedback_page(
    cue_bundle: Bundle, client: Client
) -> None:
    client.force_login(
        get_user_model().objects.create_user("staff", password="x-123456789", is_staff=True)
    )
    study = _study(cue_bundle, "learning_test", n_trials=2, n_pretest=1, n_learning=1)
    pretest, learning = (
        client.get(reverse("preview_numbered", args=[study.slug, "visual", "trial", n]))
        for n in (1, 2)
    )
    assert b'class="heatmap-frame"' in pretest.content and b"Explanation:" not in pretest.content
    assert b"Explanation:" in learning.content and b"Learning" in learning.content
    feedback = client.get(reverse("preview_numbered", args=[study.slug, "visual", "feedback", 2]))
    assert feedback.status_code == 200 and b"The model decided on" in feedback.content


@pytest.mark.django_db
@pytest.mark.usefixtures("seeded_enrolment")
def test_preference_runs_through_the_pages_the_export_and_the_report(
    cue_bundle: Bundle, tmp_path: Path
) -> None:
    _study(cue_bundle, "preference", n_trials=6)
    call_command("simulate_participants", study="preference", n=6, strategy="chance", seed=2)
    rows = _exported_rows("preference", tmp_path / "export")
    assert len(rows) == 36 and {r["task"] for r in rows} == {"preference"}
    assert all({r["method"], r["partner_method"]} == set(METHODS) for r in rows)
    report = build_report(tmp_path / "export", tmp_path / "report", progress=False)
    summary = json.loads((report / "report.json").read_text(encoding="utf-8"))
    (model,) = summary["preference_model"]
    assert model["n_trials"] == 36
    chose_b = sum(
        (r["method"] if r["answer"] == "first" else r["partner_method"]) == model["method_b"]
        for r in rows
    )
    assert model["share_b"] == pytest.approx(chose_b / 36)
    assert model["ci_low"] < 0 < model["ci_high"], "chance bots prefer neither method"


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.usefixtures("seeded_enrolment")
def test_learning_then_test_finds_that_bots_who_saw_the_cue_explained_follow_it_in_the_test(
    media_root: Path, tmp_path: Path
) -> None:
    # Every wrong decision is a cue-conflict one, so half of each block's clips carry a cue.
    bundle_dir = write_synthetic_bundle(tmp_path / "b", n=40, share_wrong=0.0, share_cue=0.5)
    study_create(
        slug="learn-control",
        title="Learning control",
        bundle=bundle_import(bundle_dir=bundle_dir),
        status=Study.Status.LIVE,
        design="learning_test",
        modalities=["visual", "none"],
        n_pretest=2,
        n_learning=4,
        n_trials=6,
        consent_text="Consent.",
    )
    call_command(
        "simulate_participants", study="learn-control", n=20, strategy="explanation", seed=4
    )
    call_command("export_responses", study="learn-control", out=str(tmp_path / "export"))
    report = build_report(tmp_path / "export", tmp_path / "report", progress=False)
    summary = json.loads((report / "report.json").read_text(encoding="utf-8"))
    terms = {row["term"]: row for row in summary["learning_test_glmm"]}
    assert set(terms) == {"Intercept", "condition[visual]", "pretest_centred"}
    assert terms["condition[visual]"]["ci_low"] > 0, terms["condition[visual]"]
