"""Real-browser fixtures: the system Chromium (headless) driven by Playwright's sync API.

The site runs in pytest-django's ``live_server`` on a transactional test database.
Audio really plays: Chromium decodes the WAV and runs its media clock with output
muted, so ``play`` and ``ended`` fire after the clip's real duration.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, need

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse
# the database access the tests make between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
]
# Short sound checks keep the browser suite fast; the stimulus is otherwise the real one.
FAST_SCREENING = {"interval_s": 0.3, "gap_s": 0.15, "ramp_s": 0.01, "calibration_s": 0.4}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    need(path is not None, "Chromium (Debian package chromium)")
    return path or ""


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        need(False, "playwright (python package)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def browser_bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.browser.realistic_bundle import write_realistic_bundle

    return write_realistic_bundle(tmp_path_factory.mktemp("browser-bundle") / "b")


@pytest.fixture
def site(
    live_server: Any,
    transactional_db: None,
    media_root: Path,
    settings: Any,
    browser_bundle_dir: Path,
) -> Any:
    """The live site with the synthetic bundle imported and fast sound checks."""
    from django.core.cache import cache

    from studyapp.services.bundles import bundle_import

    cache.clear()  # per-client rate-limit counters: every browser test comes from 127.0.0.1
    settings.HEARXAI_SCREENING = FAST_SCREENING
    settings.HEARXAI_REDIRECT_SECONDS = 1
    live_server.bundle = bundle_import(bundle_dir=browser_bundle_dir)
    return live_server


class PageWatch:
    """What a page did that a test should check: requests, console errors, CSP violations."""

    def __init__(self, page: Any, origin: str) -> None:
        self.origin = origin
        self.requests: list[str] = []
        self.problems: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(f"console: {message.text}")

    def foreign_requests(self) -> list[str]:
        return [
            url
            for url in self.requests
            if not url.startswith(self.origin) and not url.startswith("data:")
        ]


@pytest.fixture
def new_page(browser: Any, site: Any) -> Iterator[Callable[..., tuple[Any, PageWatch]]]:
    """Open a page in a fresh browser context (its own cookies and tab storage)."""
    contexts: list[Any] = []

    def open_page(**context_options: Any) -> tuple[Any, PageWatch]:
        context = browser.new_context(
            **{"viewport": {"width": 1100, "height": 900}, **context_options}
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        return page, PageWatch(page, site.url)

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot of the current page as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
