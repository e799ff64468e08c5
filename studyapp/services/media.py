"""Content-addressed media storage: each distinct file is stored once."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

from contracts.bundle_format import sha256_file
from studyapp.models import MediaFile

SUFFIXES = {"audio/wav": ".wav", "image/png": ".png"}


def media_relative_path(sha256: str, *, media_type: str) -> str:
    return f"{sha256[:2]}/{sha256}{SUFFIXES[media_type]}"


def media_store(
    *, source: Path, media_type: str, sha256: str | None = None, info: dict | None = None
) -> MediaFile:
    """Copy ``source`` into media storage (if not there yet) and return its row.

    The copy goes to a temporary name first and is renamed into place, so a crash
    never leaves a truncated file under a valid content hash.
    """
    digest = sha256 or sha256_file(source)
    existing = MediaFile.objects.filter(sha256=digest).first()
    rel = media_relative_path(digest, media_type=media_type)
    target = Path(settings.MEDIA_ROOT) / rel
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    if existing:
        return existing
    media, _ = MediaFile.objects.get_or_create(
        sha256=digest,
        defaults={
            "media_type": media_type,
            "path": rel,
            "size": target.stat().st_size,
            **(info or {}),
        },
    )
    return media
