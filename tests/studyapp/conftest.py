from __future__ import annotations

import pytest

from studyapp.models import Bundle, Study
from studyapp.services.studies import study_create


@pytest.fixture
def study(bundle: Bundle) -> Study:
    return study_create(
        slug="pilot-study",
        title="Pilot study",
        bundle=bundle,
        status=Study.Status.LIVE,
        n_trials=6,
        consent_text="Consent text.",
        completion_code="DONE123",
    )


@pytest.fixture(autouse=True)
def _bots_listen_on_the_server_clock(request: pytest.FixtureRequest) -> None:
    """In-process bots wait out each trial's audio on a moved clock (see tests/conftest.py)."""
    request.getfixturevalue("bots_listen_on_the_server_clock")
