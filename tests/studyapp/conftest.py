from __future__ import annotations

from pathlib import Path

import pytest

from studyapp.models import Bundle, Study
from studyapp.services.bundles import bundle_import
from studyapp.services.studies import study_create
from tests.synthetic_bundle import write_synthetic_bundle


@pytest.fixture(scope="session")
def synthetic_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_bundle(tmp_path_factory.mktemp("bundle") / "b")


@pytest.fixture
def bundle(db: None, media_root: Path, synthetic_bundle_dir: Path) -> Bundle:
    return bundle_import(bundle_dir=synthetic_bundle_dir)


@pytest.fixture
def study(bundle: Bundle) -> Study:
    return study_create(slug="pilot-study", title="Pilot study", bundle=bundle, status=Study.Status.LIVE,
                        n_trials=6, consent_text="Consent text.", completion_code="DONE123")
