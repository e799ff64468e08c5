"""Hostile bundle archives uploaded through the admin are refused before anything is written.

What the zip's headers give away (paths out of the folder, links, device files,
encryption, files that are not part of a bundle, too many or too large files, declared
zip bombs, a file that is no zip) is refused by the upload form itself: no job, nothing
stored, nothing extracted. What only decompression reveals (a header that lies about
its size, a fake WAV, damaged data) is refused by the import job before a single entry
is extracted, and the stored upload is deleted. The media storage is never touched.
tests/studyapp/test_archives.py checks the same rules on the archive service directly.
"""

from __future__ import annotations

import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from studyapp.models import Bundle, ImportJob, MediaFile

pytestmark = pytest.mark.django_db


@pytest.fixture
def clean_zip(synthetic_bundle_dir: Path, tmp_path: Path) -> Callable[[], Path]:
    """A fresh copy of a valid bundle archive, to spoil."""
    counter = [0]

    def make() -> Path:
        counter[0] += 1
        target = tmp_path / f"bundle-{counter[0]}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(synthetic_bundle_dir.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(synthetic_bundle_dir).as_posix())
        return target

    return make


def _add(archive: Path, name: str | zipfile.ZipInfo, data: bytes = b"{}") -> Path:
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return archive


def _entry(name: str, kind: int = stat.S_IFREG) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (kind | 0o644) << 16
    return info


def _encrypted(archive: Path, name: str = "files/secret.json") -> Path:
    """Add an entry flagged as encrypted (zipfile cannot write one, so set the flag in both headers)."""
    _add(archive, name)
    data = bytearray(archive.read_bytes())
    local = data.index(name.encode()) - 30
    central = data.rindex(name.encode()) - 46
    assert data[local : local + 4] == b"PK\x03\x04" and data[central : central + 4] == b"PK\x01\x02"
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    archive.write_bytes(bytes(data))
    return archive


def _upload(client: Client, archive: Path, name: str = "") -> Any:
    upload = SimpleUploadedFile(
        name or archive.name, archive.read_bytes(), content_type="application/zip"
    )
    return client.post(reverse("admin:studyapp_importjob_upload"), {"archive": upload})


def _nothing_written(media_root: Path) -> None:
    assert not Bundle.objects.exists() and not MediaFile.objects.exists()
    assert not media_root.exists(), "media storage was written"
    uploads = media_root.parent / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == [], list(uploads.iterdir())


HEADER_CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "path traversal": (lambda a: _add(a, "../../escape.json"), "path escapes the bundle folder"),
    "absolute path": (
        lambda a: _add(a, "/etc/cron.d/escape.json"),
        "path escapes the bundle folder",
    ),
    "windows path": (lambda a: _add(a, "..\\..\\escape.json"), "path escapes the bundle folder"),
    "symbolic link": (
        lambda a: _add(a, _entry("files/link.wav", stat.S_IFLNK), b"/etc/passwd"),
        "symbolic link",
    ),
    "device file": (lambda a: _add(a, _entry("files/dev.wav", stat.S_IFCHR)), "special file"),
    "named pipe": (lambda a: _add(a, _entry("files/pipe.wav", stat.S_IFIFO)), "special file"),
    "encrypted entry": (_encrypted, "is encrypted"),
    "script": (lambda a: _add(a, "files/run.sh", b"#!/bin/sh\nrm -rf /\n"), "not part of a bundle"),
    "executable": (lambda a: _add(a, "files/setup.exe", b"MZ\x90\x00"), "not part of a bundle"),
    "python module": (lambda a: _add(a, "manage.py", b"import os"), "not part of a bundle"),
    "web page": (
        lambda a: _add(a, "files/x.html", b"<script>alert(1)</script>"),
        "not part of a bundle",
    ),
    "names clashing by case": (lambda a: _add(a, "MANIFEST.JSON"), "appears twice"),
    "zip bomb": (lambda a: _add(a, "files/bomb.wav", b"RIFF" + bytes(30_000_000)), "zip bomb"),
    "huge file": (
        lambda a: _add(a, "files/huge.json", bytes(range(256)) * 40_000),
        "allowed per file",
    ),
    "too many files": (
        lambda a: [_add(a, f"files/n{i}.json") for i in range(30)][-1],
        "files, more than the",
    ),
}


@pytest.mark.parametrize("case", list(HEADER_CASES))
def test_the_upload_form_refuses_what_the_headers_give_away(
    case: str, clean_zip: Callable[[], Path], admin_client: Client, media_root: Path, settings: Any
) -> None:
    settings.BUNDLE_MAX_FILES = (
        100  # the bundle has 97 files; the limits are the deployment's, scaled down
    )
    settings.BUNDLE_MAX_FILE_BYTES = 5_000_000
    spoil, expected = HEADER_CASES[case]
    page = _upload(admin_client, spoil(clean_zip()))
    assert page.status_code == 200, page.status_code
    assert expected in page.content.decode(), page.content.decode()[:3000]
    assert not ImportJob.objects.exists()
    _nothing_written(media_root)


def test_a_file_that_is_no_zip_or_has_another_name_is_refused(
    admin_client: Client, media_root: Path, tmp_path: Path
) -> None:
    fake = tmp_path / "bundle.zip"
    fake.write_bytes(b"PK\x03\x04 this is no zip archive at all")
    assert "not a zip archive" in _upload(admin_client, fake).content.decode()
    tarball = tmp_path / "bundle.tar.gz"
    tarball.write_bytes(b"\x1f\x8b\x08")
    assert "File extension" in _upload(admin_client, tarball).content.decode()
    assert not ImportJob.objects.exists()
    _nothing_written(media_root)


def _lie_about_size(archive: Path) -> Path:
    """Rewrite a WAV entry's declared size (both headers) to a tenth of the truth."""
    target = "files/liar.wav"
    _add(archive, target, b"RIFF" + bytes(range(256)) * 4000)
    data = bytearray(archive.read_bytes())
    name = target.encode()
    local = data.index(name) - 30
    true_size = struct.unpack_from("<I", data, local + 22)[0]
    struct.pack_into("<I", data, local + 22, true_size // 10)
    central = data.rindex(name) - 46
    assert data[central : central + 4] == b"PK\x01\x02"
    struct.pack_into("<I", data, central + 24, true_size // 10)
    archive.write_bytes(bytes(data))
    return archive


CONTENT_CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    # (zipfile stops at the declared size, so the lie shows as a wrong checksum)
    "header lying about its size": (_lie_about_size, "files/liar.wav: cannot be read (Bad CRC-32"),
    "fake wave file": (
        lambda a: _add(a, "files/fake.wav", b"#!/bin/sh not audio"),
        "content is not a WAV file",
    ),
}


@pytest.mark.parametrize("case", list(CONTENT_CASES))
def test_the_import_job_refuses_what_only_decompression_reveals_before_extracting(
    case: str, clean_zip: Callable[[], Path], admin_client: Client, media_root: Path
) -> None:
    spoil, expected = CONTENT_CASES[case]
    reply = _upload(admin_client, spoil(clean_zip()))
    assert reply.status_code == 302  # the headers were fine: a job checks the rest
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED and "nothing was imported" in job.message
    assert any(expected in p for p in job.problems), job.problems
    page = admin_client.get(
        reverse("admin:studyapp_importjob_change", args=[job.pk])
    ).content.decode()
    assert expected in page
    _nothing_written(media_root)


def test_the_same_archive_unspoiled_is_imported(
    clean_zip: Callable[[], Path], admin_client: Client, media_root: Path
) -> None:
    assert _upload(admin_client, clean_zip()).status_code == 302
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.SUCCEEDED and Bundle.objects.count() == 1
