"""The admin, dashboards, previews and exports need a staff login; export links cannot be guessed.

Every researcher and preview URL in the URLconf is tried as nobody, as a logged-in
participant-level user (no staff flag) and as staff, so a new staff page that forgets
its decorator fails here.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from studyapp.models import Bundle, ExportJob
from studyapp.services.jobs import export_job_create
from tests.security.conftest import every_page_study, walk
from tests.security.test_csrf import named_patterns, url_args

pytestmark = pytest.mark.django_db
STAFF_URLS = (
    "preview_index",
    "preview_sound",
    "preview_page",
    "preview_numbered",
    "preview_trials",
    "study-dashboard",
    "study-chart",
    "session-timeline",
    "export-download",
)


@pytest.fixture
def site(bundle: Bundle) -> dict[str, Any]:
    study = every_page_study(bundle)
    assert walk(study, "someone")
    export = export_job_create(study=study)
    return {"study": study, "token": "x" * 43, "export": ExportJob.objects.get(pk=export.pk)}


def _plain_user_client() -> Client:
    user = get_user_model().objects.create_user("participant", password="a-long-password-456")
    client = Client()
    client.force_login(user)
    return client


def test_every_researcher_and_preview_url_is_in_the_staff_list(site: dict[str, Any]) -> None:
    args = url_args(site)
    ours = [name for name, _ in named_patterns() if not name.startswith("admin:")]
    assert {n for n in ours if reverse(n, args=args[n]).startswith("/research/")} == set(STAFF_URLS)


def test_staff_pages_send_everyone_else_to_the_login(
    site: dict[str, Any], staff_client: Client
) -> None:
    args = url_args(site)
    for who, client in (
        ("nobody", Client()),
        ("a user without the staff flag", _plain_user_client()),
    ):
        for name in STAFF_URLS:
            reply = client.get(reverse(name, args=args[name]))
            assert reply.status_code == 302 and reply["Location"].startswith("/admin/login/"), (
                who,
                name,
            )
    for name in (
        "preview_index",
        "preview_page",
        "study-dashboard",
        "study-chart",
        "export-download",
    ):
        assert staff_client.get(reverse(name, args=args[name])).status_code == 200, name


def test_the_admin_is_closed_to_everyone_but_staff(
    site: dict[str, Any], staff_client: Client
) -> None:
    urls = [
        reverse("admin:index"),
        reverse("admin:studyapp_participant_changelist"),
        reverse("admin:studyapp_response_changelist"),
        reverse("admin:studyapp_exportjob_change", args=[site["export"].pk]),
        reverse("admin:studyapp_study_export", args=[site["study"].pk]),
        reverse("admin:studyapp_importjob_upload"),
    ]
    for client in (Client(), _plain_user_client()):
        for url in urls:
            reply = client.get(url)
            assert reply.status_code == 302 and reply["Location"].startswith("/admin/login/"), url
    for url in urls:
        assert staff_client.get(url).status_code == 200, url


def test_the_admin_never_shows_a_session_token(site: dict[str, Any], staff_client: Client) -> None:
    from studyapp.models import Participant

    person = Participant.objects.get(participant_label="someone")
    pages = [
        reverse("admin:studyapp_participant_changelist"),
        reverse("admin:studyapp_participant_change", args=[person.pk]),
        reverse("admin:studyapp_response_changelist"),
        reverse("study-dashboard", args=[site["study"].slug]),
    ]
    for url in pages:
        page = staff_client.get(url)
        assert page.status_code == 200 and person.token not in page.content.decode(), url


def test_export_links_are_long_random_tokens_and_nothing_else_opens_the_file(
    site: dict[str, Any], staff_client: Client, media_root: Path
) -> None:
    job = site["export"]
    others = [export_job_create(study=site["study"]).download_token for _ in range(5)]
    tokens = [job.download_token, *others]
    assert len(set(tokens)) == len(tokens)
    assert all(
        len(t) >= 43 and t.replace("-", "").replace("_", "").isalnum() for t in tokens
    )  # 256 random bits
    link = reverse("export-download", args=[job.download_token])
    assert (
        str(job.pk) not in link.replace(job.download_token, "") and site["study"].slug not in link
    )
    download = staff_client.get(link)
    assert download.status_code == 200 and zipfile.ZipFile(
        io.BytesIO(b"".join(download.streaming_content))
    )
    for guess in (
        job.download_token[:-1],
        job.download_token.upper(),
        str(job.pk),
        site["study"].slug,
        job.download_token + "x",
    ):
        assert staff_client.get(reverse("export-download", args=[guess])).status_code == 404, guess
    # The file lives outside every folder the site serves by path.
    archive = Path(
        job.archive_path if job.archive_path else ExportJob.objects.get(pk=job.pk).archive_path
    ).resolve()
    for served in (Path(django_settings.STATIC_ROOT), Path(django_settings.MEDIA_ROOT)):
        assert served.resolve() not in archive.parents
    assert staff_client.get(f"/static/{archive.name}").status_code == 404
    assert staff_client.get(f"/media/{archive.name}").status_code == 404
