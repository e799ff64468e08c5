"""Export archives stop being offered, and are deleted, HEARXAI_EXPORT_KEEP_DAYS after they were made."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studyapp.models import Bundle, ExportJob
from studyapp.services.export_retention import exports_expire
from studyapp.services.jobs import export_job_create
from studyapp.tasks import sweep_jobs
from tests.studyapp.research_helpers import bundle_with, complete, study_on


@pytest.fixture
def bundle(media_root: Path, tmp_path: Path) -> Bundle:
    return bundle_with(tmp_path)


def _finished_export(bundle: Bundle, slug: str, *, days_ago: float) -> ExportJob:
    study = study_on(bundle, slug=slug)
    complete(study, f"{slug}-p")
    job = export_job_create(study=study)
    ExportJob.objects.filter(pk=job.pk).update(
        finished_at=timezone.now() - timedelta(days=days_ago)
    )
    job.refresh_from_db()
    assert job.status == ExportJob.Status.SUCCEEDED and Path(job.archive_path).is_file()
    return job


def _staff() -> Client:
    user = get_user_model().objects.create_user(
        "researcher", password="a-long-password-123", is_staff=True, is_superuser=True
    )
    client = Client()
    client.force_login(user)
    return client


def _download(client: Client, job: ExportJob) -> int:
    return client.get(reverse("export-download", args=[job.download_token])).status_code


@pytest.mark.django_db
def test_an_export_is_offered_until_its_deadline_and_not_after(
    bundle: Bundle, settings: object
) -> None:
    settings.EXPORT_KEEP_DAYS = 30  # type: ignore[attr-defined]
    fresh, old = (
        _finished_export(bundle, "fresh", days_ago=29),
        _finished_export(bundle, "old", days_ago=30.01),
    )
    client = _staff()
    assert _download(client, fresh) == 200
    assert _download(client, old) == 404  # (its file is still there: the sweep has not run)
    assert Path(old.archive_path).is_file()
    listing = client.get(reverse("admin:studyapp_exportjob_changelist")).content.decode()
    assert "deleted (export again)" in listing and "download zip</a> (until " in listing


@pytest.mark.django_db
def test_the_sweep_deletes_archives_past_their_deadline_once_and_says_so(
    bundle: Bundle, settings: object
) -> None:
    settings.EXPORT_KEEP_DAYS = 7  # type: ignore[attr-defined]
    fresh, old = (
        _finished_export(bundle, "fresh", days_ago=6),
        _finished_export(bundle, "old", days_ago=8),
    )
    assert exports_expire() == [f"export job {old.pk}: archive deleted after 7 days"]
    old.refresh_from_db()
    assert not Path(old.archive_path or "/nonexistent").exists() and old.archive_path == ""
    assert "archive deleted after 7 days (export again" in old.message
    assert Path(fresh.archive_path).is_file()
    assert exports_expire() == []  # (a second sweep, or another worker's, finds nothing to do)


@pytest.mark.django_db
def test_with_the_setting_off_exports_are_kept_for_ever(bundle: Bundle, settings: object) -> None:
    settings.EXPORT_KEEP_DAYS = None  # type: ignore[attr-defined]
    old = _finished_export(bundle, "ancient", days_ago=3650)
    assert exports_expire() == []
    assert Path(old.archive_path).is_file() and _download(_staff(), old) == 200


@pytest.mark.django_db(transaction=True)
def test_the_web_jobs_workers_sweep_deletes_expired_archives(
    bundle: Bundle, settings: object
) -> None:
    settings.EXPORT_KEEP_DAYS = 1  # type: ignore[attr-defined]
    old = _finished_export(bundle, "swept", days_ago=2)
    sweep_jobs.delay()  # (run here: tasks are eager in the tests)
    assert not Path(old.archive_path).exists()
    assert ExportJob.objects.get(pk=old.pk).archive_path == ""
