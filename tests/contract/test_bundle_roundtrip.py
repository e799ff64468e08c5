"""Bundle v1 round trip: the explainer writes a bundle, the contract module and the study site read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts import bundle_format as bf
from tests.explainer import conftest as explainer_fixtures

METHODS = ("lrp-epsilon-plus-flat", "smoothgrad")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from explainer import bundle as eb
    from explainer.selection import Design

    root = tmp_path_factory.mktemp("roundtrip")
    run = explainer_fixtures.train_fixture_run(root, "audionet", ["--epochs", "1"])
    design = Design(n_decisions=4, practice=1, methods=METHODS)
    spec = eb.plan_bundle(
        run,
        explainer_fixtures.DEMO_CORPUS,
        design,
        seed=11,
        method_params={"smoothgrad": {"n_samples": 4}},
    )
    eb.write_bundle(spec, root / "bundle")
    return root / "bundle"


def test_the_contract_module_reads_what_the_explainer_writes(written: Path) -> None:
    manifest = bf.read_manifest(written)
    assert bf.check_bundle_files(written, manifest) == []
    text = (written / bf.MANIFEST_NAME).read_text(encoding="utf-8")
    assert text == bf.dumps_manifest(
        json.loads(text)
    )  # canonical form, so re-runs compare byte for byte
    assert (manifest["format"], manifest["format_version"]) == (bf.BUNDLE_FORMAT, bf.BUNDLE_VERSION)
    for stim in manifest["stimuli"]:
        assert set(stim["files"]) == set(bf.FILE_ROLES)
        for role, entry in stim["files"].items():
            assert entry["media_type"] == bf.ROLE_MEDIA_TYPES[role]
            assert bf.is_safe_relative_path(entry["path"])
        assert stim["method"] in manifest["methods"]
        assert len(stim["scores"]) == len(manifest["model"]["classes"])
        assert sum(stim["scores"]) == pytest.approx(1.0, abs=1e-4)
    assert {s["practice"] for s in manifest["stimuli"]} == {True, False}
    assert manifest["methods"]["smoothgrad"]["params"]["n_samples"] == 4


@pytest.mark.django_db
def test_the_study_site_validates_and_imports_it_with_timelines(
    written: Path, media_root: Path
) -> None:
    from studyapp.models import Stimulus
    from studyapp.services.bundles import bundle_import, bundle_validate

    manifest, _ = bundle_validate(bundle_dir=written)
    bundle = bundle_import(bundle_dir=written)
    stored = {s.stimulus_id: s for s in Stimulus.objects.filter(bundle=bundle)}
    assert set(stored) == {s["id"] for s in manifest["stimuli"]}
    for stim in manifest["stimuli"]:
        row = stored[stim["id"]]
        assert (row.method, row.practice, row.true_label, row.predicted_label) == (
            stim["method"],
            stim["practice"],
            stim["true_label"],
            stim["predicted_label"],
        )
        assert row.timeline == stim["timeline"]
