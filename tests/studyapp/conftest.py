from __future__ import annotations

from collections.abc import Iterator

import pytest

from studyapp.celery import app
from studyapp.models import Bundle, Study
from studyapp.services.studies import study_create
from tests.processes import PrivateRedis, free_port


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


@pytest.fixture(scope="session")
def site_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """The one broker this test process sends Celery messages to when tasks do not run
    eagerly: a private Redis on a port of its own, down until a test starts it.

    Celery builds its connection and producer pools from ``broker_url`` when it first
    sends and keeps them for the life of the process (nothing documented points them
    elsewhere), so the URL is set once, before any message goes out, and a test turns the
    broker off and on by stopping and starting this server.
    """
    server = PrivateRedis(free_port(), tmp_path_factory.mktemp("site-broker"))
    app.conf.broker_url = server.url
    yield server
    server.stop()
