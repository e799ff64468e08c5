"""Uploading a bundle and exporting responses through the real admin pages, as a logged-in researcher."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from contracts import export_format as fmt
from studyapp.models import Bundle, ExportJob, ImportJob, MediaFile, Participant, Study
from tests.studyapp.research_helpers import (
    bundle_folder,
    bundle_with,
    complete,
    study_on,
    zip_folder,
)

pytestmark = pytest.mark.django_db


def _upload(client: Client, archive: Path) -> ImportJob:
    with open(archive, "rb") as handle:
        upload = SimpleUploadedFile(archive.name, handle.read(), content_type="application/zip")
    response = client.post(reverse("admin:studyapp_importjob_upload"), {"archive": upload})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.latest("pk")
    assert response["Location"] == reverse("admin:studyapp_importjob_change", args=[job.pk])
    return job


def test_a_researcher_uploads_a_bundle_zip_and_sees_the_job_succeed(
    admin_client: Client, media_root: Path, tmp_path: Path
) -> None:
    archive = zip_folder(bundle_folder(n=12), tmp_path / "my bundle.zip", top="bundle")
    job = _upload(admin_client, archive)
    page = admin_client.get(
        reverse("admin:studyapp_importjob_change", args=[job.pk])
    ).content.decode()
    assert "succeeded" in page and "imported 12 stimuli" in page and "create a study on it" in page
    bundle = Bundle.objects.get()
    assert bundle.stimuli.count() == 12 and job.original_name in page
    listing = admin_client.get(reverse("admin:studyapp_importjob_changelist")).content.decode()
    assert "Upload a bundle" in listing and "my bundle.zip" in listing
    assert not list(Path(media_root.parent / "uploads").glob("*.zip")), "the used upload is deleted"


def test_an_unsafe_upload_is_refused_at_the_form_with_every_problem_listed_and_nothing_stored(
    admin_client: Client, media_root: Path, tmp_path: Path
) -> None:
    archive = zip_folder(bundle_folder(n=12), tmp_path / "evil.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("../../outside.json", "{}")
        zf.writestr("files/run.sh", "#!/bin/sh\n")
    with open(archive, "rb") as handle:
        upload = SimpleUploadedFile(archive.name, handle.read(), content_type="application/zip")
    page = admin_client.post(reverse("admin:studyapp_importjob_upload"), {"archive": upload})
    assert page.status_code == 200
    text = page.content.decode()
    assert "path escapes the bundle folder" in text and "run.sh" in text
    assert (
        not ImportJob.objects.exists()
        and not Bundle.objects.exists()
        and not MediaFile.objects.exists()
    )
    assert not (tmp_path.parent / "outside.json").exists() and not media_root.exists()
    assert not (media_root.parent / "uploads").exists()


def test_the_upload_form_refuses_a_file_that_is_not_a_zip(
    admin_client: Client, media_root: Path
) -> None:
    upload = SimpleUploadedFile("bundle.tar", b"not a zip", content_type="application/x-tar")
    response = admin_client.post(reverse("admin:studyapp_importjob_upload"), {"archive": upload})
    assert response.status_code == 200 and "File extension" in response.content.decode()
    assert not ImportJob.objects.exists()


def _export_and_download(client: Client, study: Study, **options: str) -> zipfile.ZipFile:
    response = client.post(reverse("admin:studyapp_study_export", args=[study.pk]), options)
    job = ExportJob.objects.latest("pk")
    assert response["Location"] == reverse("admin:studyapp_exportjob_change", args=[job.pk])
    page = client.get(response["Location"]).content.decode()
    link = reverse("export-download", args=[job.download_token])
    assert "succeeded" in page and link in page
    download = client.get(link)
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert "attachment" in download["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))


def test_an_export_from_the_admin_is_a_download_once_ready_without_pilot_data_or_ids(
    admin_client: Client, media_root: Path, tmp_path: Path
) -> None:
    study = study_on(bundle_with(tmp_path), slug="exp", status=Study.Status.PILOT)
    complete(study, "pilot-person")
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)
    study.refresh_from_db()
    complete(study, "live-person")
    archive = _export_and_download(admin_client, study)
    names = sorted(archive.namelist())
    assert names == sorted(
        f"exp/{n}"
        for n in (fmt.TRIALS_FILE, fmt.PARTICIPANTS_FILE, fmt.EVENTS_FILE, fmt.CODEBOOK_FILE)
    )
    participants = archive.read(f"exp/{fmt.PARTICIPANTS_FILE}").decode()
    live = Participant.objects.get(participant_label="live-person")
    assert participants.count("\n") == 2 and live.pseudonym in participants
    assert "prolific_pid" not in participants and "live-person" not in participants

    archive = _export_and_download(
        admin_client, study, include_pilot="on", include_recruitment_ids="on"
    )
    participants = archive.read(f"exp/{fmt.PARTICIPANTS_FILE}").decode()
    assert (
        participants.count("\n") == 3
        and "participant_label" in participants
        and "pilot-person" in participants
    )


def test_export_downloads_need_a_staff_login_and_the_exact_token(
    admin_client: Client, client: Client, media_root: Path, tmp_path: Path
) -> None:
    study = study_on(bundle_with(tmp_path), slug="tok")
    complete(study, "someone")
    admin_client.post(reverse("admin:studyapp_study_export", args=[study.pk]), {})
    job = ExportJob.objects.get()
    assert len(job.download_token) >= 40
    link = reverse("export-download", args=[job.download_token])
    anonymous = client.get(link)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    get_user_model().objects.create_user("worker", password="pw-123456789")
    client.login(username="worker", password="pw-123456789")
    assert client.get(link).status_code == 302, "a logged-in non-staff user is not enough"
    wrong = reverse("export-download", args=[job.download_token[:-2] + "xx"])
    assert admin_client.get(wrong).status_code == 404


def test_deleting_an_export_job_deletes_its_file(
    admin_client: Client, media_root: Path, tmp_path: Path
) -> None:
    study = study_on(bundle_with(tmp_path), slug="del")
    complete(study, "someone")
    admin_client.post(reverse("admin:studyapp_study_export", args=[study.pk]), {})
    job = ExportJob.objects.get()
    assert Path(job.archive_path).is_file()
    admin_client.post(reverse("admin:studyapp_exportjob_delete", args=[job.pk]), {"post": "yes"})
    assert not ExportJob.objects.exists() and not Path(job.archive_path).exists()


def test_withdrawing_a_participant_in_the_admin_deletes_their_data(
    admin_client: Client, media_root: Path, tmp_path: Path
) -> None:
    study = study_on(bundle_with(tmp_path), slug="wd")
    keep, gone = complete(study, "keep"), complete(study, "gone")
    response = admin_client.post(
        reverse("admin:studyapp_participant_changelist"),
        {"action": "withdraw", "_selected_action": [gone.pk]},
        follow=True,
    )
    assert "Withdrew 1 participant" in response.content.decode()
    assert list(Participant.objects.values_list("pk", flat=True)) == [keep.pk]


def test_a_job_page_refreshes_itself_until_the_job_is_finished(
    admin_client: Client, db: None
) -> None:
    job = ImportJob.objects.create(source="/nowhere", original_name="pending.zip")
    running = admin_client.get(
        reverse("admin:studyapp_importjob_change", args=[job.pk])
    ).content.decode()
    assert 'http-equiv="refresh"' in running and "queued" in running
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED)
    done = admin_client.get(
        reverse("admin:studyapp_importjob_change", args=[job.pk])
    ).content.decode()
    assert 'http-equiv="refresh"' not in done
