"""Per-stimulus faithfulness: bundle -> Stimulus.faithfulness -> faith_* export cells."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from contracts import export_format as fmt
from contracts.bundle_format import BundleError, dumps_manifest
from studyapp.models import Bundle, MediaFile, Stimulus, Study
from studyapp.services.bundles import bundle_import
from studyapp.services.exports import export_write
from studyapp.services.studies import study_create
from tests.studyapp.research_helpers import complete, study_on
from tests.synthetic_bundle import write_synthetic_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def faithful_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_bundle(tmp_path_factory.mktemp("faith") / "b", n=12, faithfulness=True)


@pytest.fixture(scope="module")
def plain_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_bundle(tmp_path_factory.mktemp("plain") / "b", n=12)


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_bundle_with_faithfulness_keeps_every_stimulus_s_numbers(
    media_root: Path, faithful_dir: Path
) -> None:
    bundle = bundle_import(bundle_dir=faithful_dir)
    stated = {s["id"]: s["faithfulness"] for s in _manifest(faithful_dir)["stimuli"]}
    stored = dict(bundle.stimuli.values_list("stimulus_id", "faithfulness"))
    assert stored == stated and len(stored) == 12
    assert {f["decision_kept"] for f in stored.values()} == {True, False}


def test_a_bundle_without_faithfulness_imports_as_before_with_the_field_empty(
    media_root: Path, plain_dir: Path
) -> None:
    bundle = bundle_import(bundle_dir=plain_dir)
    assert bundle.stimuli.count() == 12
    assert set(bundle.stimuli.values_list("faithfulness", flat=True)) == {None}


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("deletion_aopc", "high", "'high' is not of type 'number'"),
        ("decision_kept", 1, "1 is not of type 'boolean'"),
        ("avg_drop", 1.5, "1.5 is greater than the maximum of 1"),
    ],
)
def test_a_faithfulness_value_of_the_wrong_type_refuses_the_bundle_naming_stimulus_and_field(
    media_root: Path, faithful_dir: Path, tmp_path: Path, field: str, value: object, says: str
) -> None:
    folder = Path(shutil.copytree(faithful_dir, tmp_path / "bad"))
    manifest = _manifest(faithful_dir)
    manifest["stimuli"][5]["faithfulness"][field] = value
    # Written without the contract's checks, as a hand-edited or foreign bundle would be.
    (folder / "manifest.json").write_text(dumps_manifest(manifest))
    stim_id = manifest["stimuli"][5]["id"]
    with pytest.raises(BundleError) as info:
        bundle_import(bundle_dir=folder)
    message = str(info.value)
    assert "\n" not in message
    assert message == f"manifest.stimuli[5] ({stim_id}).faithfulness.{field}: {says}"
    assert not Bundle.objects.exists() and not Stimulus.objects.exists()
    assert not MediaFile.objects.exists()
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))


def test_the_export_carries_each_trial_s_faithfulness_and_leaves_it_empty_without(
    media_root: Path, faithful_dir: Path, plain_dir: Path, tmp_path: Path
) -> None:
    bundle = bundle_import(bundle_dir=faithful_dir)
    study = study_on(bundle, slug="faith", n_practice=1)
    for i in range(3):
        complete(study, f"p{i}", seed=i)
    rows = _rows(export_write(study=study, out_dir=tmp_path / "faith").out_dir / fmt.TRIALS_FILE)
    stated = {s["id"]: s["faithfulness"] for s in _manifest(faithful_dir)["stimuli"]}
    assert len(rows) == 3 * 7
    for row in rows:
        record = stated[row["stimulus"]]
        for key, dtype, _ in fmt.FAITHFULNESS_FIELDS:
            assert row[f"faith_{key}"] == fmt.encode_cell(record[key], dtype) != ""
            assert row[f"partner_faith_{key}"] == "", "a single-explanation trial has no partner"
    plain = bundle_import(bundle_dir=plain_dir)
    complete(study_on(plain, slug="plain"), "q", seed=1)
    study = Study.objects.get(slug="plain")
    rows = _rows(export_write(study=study, out_dir=tmp_path / "plain").out_dir / fmt.TRIALS_FILE)
    faith = [c for c in fmt.column_names(fmt.TRIALS_FILE) if "faith_" in c]
    assert len(faith) == 14 and rows
    assert {row[c] for row in rows for c in faith} == {""}


@pytest.mark.usefixtures("seeded_enrolment")
def test_a_pairwise_trial_exports_the_partner_s_faithfulness_beside_the_stimulus_s(
    media_root: Path, tmp_path: Path
) -> None:
    folder = write_synthetic_bundle(
        tmp_path / "cue", n=20, share_cue=0.5, control_model=True, faithfulness=True
    )
    bundle = bundle_import(bundle_dir=folder)
    study_create(
        slug="pairs",
        title="pairs",
        bundle=bundle,
        status=Study.Status.LIVE,
        design="model_comparison",
        consent_text="Consent.",
        modalities=["visual"],
        n_trials=4,
    )
    call_command("simulate_participants", study="pairs", n=2, strategy="explanation", seed=1)
    study = Study.objects.get(slug="pairs")
    rows = _rows(export_write(study=study, out_dir=tmp_path / "out").out_dir / fmt.TRIALS_FILE)
    stated = {s["id"]: s["faithfulness"] for s in _manifest(folder)["stimuli"]}
    assert len(rows) == 8
    for row in rows:
        assert row["partner_stimulus"]
        first, second = stated[row["stimulus"]], stated[row["partner_stimulus"]]
        assert row["faith_deletion_aopc"] == fmt.encode_cell(first["deletion_aopc"], "number")
        assert row["partner_faith_deletion_aopc"] == fmt.encode_cell(
            second["deletion_aopc"], "number"
        )
        assert row["partner_faith_decision_kept"] == fmt.encode_cell(
            second["decision_kept"], "boolean"
        )
