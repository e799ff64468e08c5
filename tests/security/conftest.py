"""A study with every page switched on, and sessions at each step, for the security tests."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from studyapp.bots import Bot, DjangoClientTransport
from studyapp.management.commands.simulate_participants import db_oracle, db_screen_oracle
from studyapp.models import Bundle, Study
from studyapp.services.studies import study_create


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """Rate-limit counters live in the cache; every test starts with none."""
    cache.clear()
    yield
    cache.clear()


def every_page_study(bundle: Bundle, slug: str = "all-pages", **fields: Any) -> Study:
    """Demographics, custom questions before and after the trials, sound check, practice, catch
    trials, rating and confidence: every participant page."""
    design = {
        "status": Study.Status.LIVE,
        "consent_text": "Consent.",
        "n_trials": 3,
        "n_practice": 1,
        "n_catch": 1,
        "demographics": ["age_range", "native_language"],
        "headphone_screen": True,
        "screen_trials": 2,
        "screen_pass_threshold": 2,
        "ask_rating": True,
        "ask_confidence": True,
        "completion_url": "https://app.prolific.com/submissions/complete?cc=C0DE",
        **fields,
    }
    study = study_create(
        slug=slug,
        title="Every page",
        bundle=bundle,
        conditions=[("visual", "visual", ""), ("audible", "audible", ""), ("both", "both", "")],
        **design,
    )
    study.questions.create(
        column="devices", text="Which do you own?", kind="multiple_choice", options="A\nB"
    )
    study.questions.create(
        column="hours", text="Hours?", kind="number", minimum=2, placement="after"
    )
    return study


@dataclass
class Recorded:
    """Every response a client received, with the path it answered."""

    responses: list[tuple[str, Any]] = field(default_factory=list)


class RecordingTransport(DjangoClientTransport):
    """The bots' in-process transport (CSRF enforced) that keeps every page it was served."""

    def __init__(self, record: Recorded, remote_addr: str = "127.0.0.1") -> None:
        super().__init__(remote_addr)
        self.record = record

    def _result(self, response: Any) -> tuple[int, str, str]:
        status, path, html = super()._result(response)
        self.record.responses.append((path, response))
        return status, path, html


def walk(study: Study, label: str, record: Recorded | None = None) -> bool:
    """A simulated participant takes ``study`` to the end through the pages; True if completed."""
    transport = RecordingTransport(record or Recorded())
    return (
        Bot(
            transport,
            study.slug,
            label,
            random.Random(label),
            1.0,
            db_oracle,
            screen_oracle=db_screen_oracle,
        )
        .run()
        .completed
    )


@pytest.fixture
def staff_client(db: None) -> Client:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        "staff", password="a-long-password-123", is_staff=True, is_superuser=True
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _bots_listen_on_the_server_clock(request: pytest.FixtureRequest) -> None:
    """In-process bots wait out each trial's audio on a moved clock (see tests/conftest.py)."""
    request.getfixturevalue("bots_listen_on_the_server_clock")
