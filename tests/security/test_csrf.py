"""Every form and every JSON endpoint refuses a POST without a valid CSRF token, and changes nothing.

The participant, preview and researcher URLs are enumerated from the URLconf, so a new
endpoint fails here until it is listed (with the arguments to reach it); the admin's
own views are checked through the ones this project adds or uses. No view is exempt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from studyapp.models import (
    AudioEvent,
    Bundle,
    ExportJob,
    ImportJob,
    Participant,
    Response,
    Study,
    Trial,
)
from studyapp.services.jobs import export_job_create
from studyapp.services.participants import participant_consent, participant_enroll
from tests.security.conftest import every_page_study, walk

pytestmark = pytest.mark.django_db
FETCH = {"HTTP_X_REQUESTED_WITH": "fetch", "HTTP_ACCEPT": "application/json"}


def named_patterns(
    resolver: URLResolver | None = None, namespace: str = ""
) -> Iterator[tuple[str, Any]]:
    """(name, view) of every named URL, namespaced names as ``ns:name``."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from named_patterns(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry.callback


@pytest.fixture
def site(bundle: Bundle, staff_client: Client) -> dict[str, Any]:
    study = every_page_study(bundle)
    person, _ = participant_enroll(study=study, recruitment={"participant_label": "victim"})
    participant_consent(participant=person, agree=True)
    assert walk(study, "finished")
    export = export_job_create(study=study)
    return {"study": study, "token": person.token, "export": export}


def url_args(site: dict[str, Any]) -> dict[str, list[Any]]:
    """Arguments that reach a real object, by URL name (every non-admin URL must be here)."""
    study, token, sha = site["study"], site["token"], "0" * 64
    return {
        "home": [],
        "healthz": [],
        "entry": [study.slug],
        "withdrawn": [study.slug],
        "resume": [token],
        "consent": [token],
        "demographics": [token],
        "questions_before": [token],
        "questions_after": [token],
        "calibration": [token],
        "calibration_sound": [token],
        "screening": [token, 1],
        "screening_sound": [token, 1],
        "instructions": [token],
        "trial": [token, 1],
        "feedback": [token, 1],
        "done": [token],
        "declined": [token],
        "screened_out": [token],
        "expired": [token],
        "withdraw": [token],
        "media": [sha, "wav"],
        "preview_index": [study.slug],
        "preview_trials": [study.slug],
        "preview_sound": [study.slug, "audible", 1],
        "preview_page": [study.slug, "audible", "consent"],
        "preview_numbered": [study.slug, "audible", "trial", 1],
        "study-dashboard": [study.slug],
        "study-chart": [study.slug, "status"],
        "session-timeline": [study.slug],
        "favicon": [],
        "export-download": [site["export"].download_token],
    }


def state() -> list[object]:
    """Everything a forged POST could change."""
    counts = [
        m.objects.count()
        for m in (Participant, Trial, Response, AudioEvent, ExportJob, ImportJob, Study)
    ]
    return counts + list(
        Participant.objects.order_by("pk").values_list(
            "status", "consented_at", "demographics", "question_answers"
        )
    )


def test_every_url_of_the_site_is_covered_here(site: dict[str, Any]) -> None:
    ours = {name for name, _ in named_patterns() if not name.startswith("admin:")}
    assert ours == set(url_args(site))


def test_no_view_is_exempt_from_the_csrf_check() -> None:
    exempt = [name for name, view in named_patterns() if getattr(view, "csrf_exempt", False)]
    assert exempt == []


@pytest.mark.parametrize("headers", [{}, FETCH], ids=["form", "fetch"])
def test_a_post_without_a_token_to_any_url_is_refused_and_changes_nothing(
    site: dict[str, Any], staff_client: Client, headers: dict[str, str]
) -> None:
    strict = Client(enforce_csrf_checks=True)
    staff = Client(enforce_csrf_checks=True)
    staff.cookies = (
        staff_client.cookies
    )  # logged in as staff: the token, not the login, is what is missing
    before = state()
    for name, args in url_args(site).items():
        for client in (strict, staff):
            reply = client.post(
                reverse(name, args=args), {"decision": "agree", "answer": "1"}, **headers
            )
            assert reply.status_code == 403, (name, reply.status_code)
    assert state() == before


ADMIN_POSTS = [
    ("admin:login", []),
    ("admin:logout", []),
    ("admin:studyapp_importjob_upload", []),
    ("admin:studyapp_study_export", ["study"]),
    ("admin:studyapp_study_duplicate", ["study"]),
    ("admin:studyapp_study_test_session", ["study"]),
    ("admin:studyapp_study_change", ["study"]),
    ("admin:studyapp_study_add", []),
    ("admin:studyapp_participant_changelist", []),
    ("admin:studyapp_exportjob_delete", ["export"]),
    ("admin:password_change", []),
]


def test_the_admins_forms_refuse_a_post_without_a_token(
    site: dict[str, Any], staff_client: Client
) -> None:
    staff = Client(enforce_csrf_checks=True)
    staff.cookies = staff_client.cookies
    before = state()
    for name, needs in ADMIN_POSTS:
        args = [site[n].pk for n in needs]
        data = {
            "action": "withdraw",
            "_selected_action": [p.pk for p in Participant.objects.all()],
            "post": "yes",
        }
        reply = staff.post(reverse(name, args=args), data)
        assert reply.status_code == 403, (name, reply.status_code)
    assert state() == before


def test_a_valid_token_from_another_origin_is_refused_over_https(
    site: dict[str, Any], settings: Any
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client(
        enforce_csrf_checks=True, HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="testserver"
    )
    url = reverse("consent", args=[site["token"]])
    Participant.objects.filter(token=site["token"]).update(consented_at=None, status="started")
    page = client.get(url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    forged = client.post(
        url,
        {"csrfmiddlewaretoken": token, "decision": "decline"},
        HTTP_ORIGIN="https://evil.example",
    )
    assert forged.status_code == 403
    assert Participant.objects.get(token=site["token"]).status == "started"
    honest = client.post(
        url, {"csrfmiddlewaretoken": token, "decision": "agree"}, HTTP_ORIGIN="https://testserver"
    )
    assert (
        honest.status_code == 302
        and Participant.objects.get(token=site["token"]).status == "in_progress"
    )
