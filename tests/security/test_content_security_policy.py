"""Every page forbids anything but the site's own scripts, styles, images and audio, and obeys that itself.

The header is checked on every page a participant meets (a whole study with every
page switched on) and on the staff pages; the HTML is checked for what the policy would
block in a browser: inline scripts, style attributes, event-handler attributes, and
resources or form targets on another origin.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from studyapp.models import Bundle
from tests.security.conftest import Recorded, every_page_study, walk

pytestmark = pytest.mark.django_db


def directives(policy: str) -> dict[str, list[str]]:
    return {parts[0]: parts[1:] for parts in (d.split() for d in policy.split(";") if d.strip())}


def sent(response: object) -> dict[str, list[str]]:
    """The policy a response carries, by directive (django-csp writes them in no fixed order)."""
    return directives(response["Content-Security-Policy"])  # type: ignore[index]


def strict_policy() -> dict[str, list[str]]:
    """The participant policy as the settings declare it."""
    declared = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    return {name: list(sources) for name, sources in declared.items()}


def admin_policy() -> dict[str, list[str]]:
    return strict_policy() | {"style-src": ["'self'", "'unsafe-inline'"]}


def test_the_participant_policy_allows_only_the_sites_own_origin() -> None:
    policy = sent(Client().get(reverse("home")))
    assert policy == strict_policy()
    assert policy["default-src"] == ["'self'"]
    for name in ("script-src", "style-src", "media-src", "connect-src", "font-src", "form-action"):
        assert policy[name] == ["'self'"], name
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == policy["base-uri"] == policy["frame-ancestors"] == ["'none'"]
    allowed = {source for sources in policy.values() for source in sources}
    assert not {s for s in allowed if s not in {"'self'", "'none'", "data:"}}, allowed


def test_the_admin_policy_differs_only_by_allowing_the_admins_inline_styles() -> None:
    strict, admin = sent(Client().get(reverse("home"))), sent(Client().get("/admin/login/"))
    assert admin == admin_policy()
    assert admin["style-src"] == ["'self'", "'unsafe-inline'"]
    assert {k: v for k, v in admin.items() if k != "style-src"} == {
        k: v for k, v in strict.items() if k != "style-src"
    }
    assert (
        "'unsafe-inline'" not in admin["script-src"] and "'unsafe-eval'" not in admin["script-src"]
    )


class _Page(HTMLParser):
    """What in a page a strict policy would block."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        for name in values:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> (inline event handler)")
        if "style" in values:
            self.problems.append(f"<{tag} style=...> (inline style)")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            self._in_script = "src" not in values
        for name in ("src", "data"):
            if name in values and _foreign(values[name]):
                self.problems.append(f"<{tag} {name}={values[name]}> (another origin)")
        if tag == "link" and _foreign(values.get("href", "")):
            self.problems.append(f"<link href={values['href']}> (another origin)")
        if tag == "form" and _foreign(values.get("action", "")):
            self.problems.append(f"<form action={values['action']}> (another origin)")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("inline <script>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def _foreign(url: str) -> bool:
    return bool(re.match(r"^(?:[a-z][a-z0-9+.-]*:|//)", url.strip(), re.I)) and not url.startswith(
        "data:"
    )


def problems_in(html: str) -> list[str]:
    page = _Page()
    page.feed(html)
    return page.problems


def test_every_page_of_a_study_sends_the_policy_and_breaks_none_of_it(bundle: Bundle) -> None:
    study = every_page_study(bundle)
    record = Recorded()
    assert walk(study, "csp", record)
    pages = {path for path, _ in record.responses}
    assert any("/sound-check/" in p for p in pages) and any("/trial/" in p for p in pages)
    assert any("/feedback/" in p for p in pages) and any(p.endswith("/done/") for p in pages)
    assert any("/questions/" in p for p in pages) and any("/last-questions/" in p for p in pages)
    for path, response in record.responses:
        assert sent(response) == strict_policy(), path
        assert response["Permissions-Policy"] == "camera=(), microphone=(), geolocation=()", path
        assert (
            response["X-Content-Type-Options"] == "nosniff"
            and response["X-Frame-Options"] == "DENY"
        ), path
        if response["Content-Type"].startswith("text/html"):
            assert problems_in(response.content.decode()) == [], path


def test_the_staff_pages_send_their_policy_and_the_researcher_pages_obey_the_strict_one(
    bundle: Bundle, staff_client: Client
) -> None:
    study = every_page_study(bundle)
    admin_page = staff_client.get(reverse("admin:studyapp_study_change", args=[study.pk]))
    assert admin_page.status_code == 200 and sent(admin_page) == admin_policy()
    for url in (
        reverse("study-dashboard", args=[study.slug]),
        reverse("preview_index", args=[study.slug]),
        reverse("preview_page", args=[study.slug, "audible", "consent"]),
    ):
        page = staff_client.get(url)
        assert page.status_code == 200 and sent(page) == strict_policy(), url
        assert problems_in(page.content.decode()) == [], url


def test_the_checker_sees_what_a_browser_would_block() -> None:
    html = (
        '<script>alert(1)</script><div style="x" onclick="y"></div><img src="https://evil.example/a.png">'
        '<script src="//cdn.example/x.js"></script><form action="https://evil.example/"></form>'
        '<a href="https://app.prolific.com/">fine: a link</a><img src="/m/abc.png"><img src="data:,">'
    )
    assert len(problems_in(html)) == 6
