"""Suite-wide fixtures and the rule for optional services.

PostgreSQL, Redis, Chromium and R are used when reachable. With
HEARXAI_REQUIRE_SERVICES=1 (set by ``.ci/run``) a missing one fails the test
instead of skipping it, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine

from tests.processes import port_open

REPO = Path(__file__).resolve().parent.parent


def services_required() -> bool:
    return os.environ.get("HEARXAI_REQUIRE_SERVICES", "") == "1"


def need(condition: bool, what: str) -> None:
    """Skip (locally) or fail (in CI) when a service the test needs is missing."""
    if condition:
        return
    if services_required():
        pytest.fail(f"{what} is required (HEARXAI_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


@pytest.fixture
def require_redis() -> str:
    url = os.environ.get("REDIS_URL_TEST", "redis://127.0.0.1:6379/15")
    need(port_open("127.0.0.1", 6379), "Redis at 127.0.0.1:6379")
    return url


@pytest.fixture
def require_chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    need(path is not None, "Chromium (Debian package chromium)")
    return path or ""


@pytest.fixture(scope="session")
def synthetic_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small valid bundle folder (tests/synthetic_bundle.py), written once per session."""
    from tests.synthetic_bundle import write_synthetic_bundle

    return write_synthetic_bundle(tmp_path_factory.mktemp("bundle") / "b")


@pytest.fixture
def bundle(db: None, media_root: Path, synthetic_bundle_dir: Path) -> Any:
    """The synthetic bundle imported into the test database (Django imported only here)."""
    from studyapp.services.bundles import bundle_import

    return bundle_import(bundle_dir=synthetic_bundle_dir)


@pytest.fixture
def media_root(tmp_path: Path, settings: object) -> Path:
    """Isolated media storage per test."""
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root  # type: ignore[attr-defined]
    settings.EXPORT_ROOT = tmp_path / "exports"  # type: ignore[attr-defined]
    settings.UPLOAD_ROOT = tmp_path / "uploads"  # type: ignore[attr-defined]
    return root


@pytest.fixture
def seeded_enrolment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Participants' seeds from a fixed generator (the site draws them with ``secrets``), so
    a simulated study gives the same numbers on every run: a check of "finds none" against
    a 95% interval would otherwise fail on one run in twenty by design."""
    import random
    import secrets

    monkeypatch.setattr(secrets, "randbits", random.Random(2026).getrandbits)


@pytest.fixture
def server_clock() -> Iterator[time_machine.Coordinates]:
    """The server's clock, running; ``server_clock.shift(seconds)`` moves it on, so that a
    simulated participant waits out a trial's audio without sleeping."""
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        yield traveller


@pytest.fixture
def bots_listen_on_the_server_clock(
    server_clock: time_machine.Coordinates, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process bots wait out each trial's audio by moving the server's clock on, not by sleeping."""
    from studyapp.bots import Bot

    monkeypatch.setattr(Bot, "wait_out_audio", lambda self, seconds: server_clock.shift(seconds))
