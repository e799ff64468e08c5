"""Importing a stimulus bundle: validate everything, then write everything atomically."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from contracts.bundle_format import BundleError, check_bundle_files, read_manifest, sha256_bytes
from studyapp.models import Bundle, MediaFile, Stimulus
from studyapp.services.archives import ArchiveError, ArchiveLimits, archive_extract
from studyapp.services.bundle_checks import media_problems
from studyapp.services.media import media_relative_path, media_store


def bundle_validate(*, bundle_dir: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Return the manifest and media info, or raise :class:`BundleError` listing every problem."""
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise BundleError([f"{bundle_dir}: not a folder"])
    manifest = read_manifest(bundle_dir)
    file_problems = check_bundle_files(bundle_dir, manifest)
    # Decode whatever is readable too, so one run reports every problem at once.
    media, infos = media_problems(bundle_dir, manifest=manifest)
    if file_problems or media:
        raise BundleError(file_problems + media)
    return manifest, infos


def bundle_import(*, bundle_dir: Path, name: str = "") -> Bundle:
    """Import a bundle folder. Re-importing the same manifest returns the existing bundle.

    Nothing is written unless every check passes; a failure while writing removes
    the media files this import added, so the site is left as it was.
    """
    manifest, infos = bundle_validate(bundle_dir=bundle_dir)
    manifest_sha = sha256_bytes((Path(bundle_dir) / "manifest.json").read_bytes())
    existing = Bundle.objects.filter(manifest_sha256=manifest_sha).first()
    if existing:
        return existing
    added: list[Path] = []
    try:
        with transaction.atomic():
            return _write_bundle(Path(bundle_dir), manifest, manifest_sha, infos, name, added)
    except BaseException:
        for path in added:
            path.unlink(missing_ok=True)
        raise


def _write_bundle(
    bundle_dir: Path,
    manifest: dict[str, Any],
    manifest_sha: str,
    infos: dict[str, dict[str, Any]],
    name: str,
    added: list[Path],
) -> Bundle:
    model = manifest["model"]
    bundle = Bundle.objects.create(
        name=name or f"{model['architecture']}-{model['task']}-{manifest_sha[:8]}",
        manifest=manifest,
        manifest_sha256=manifest_sha,
        format_version=manifest["format_version"],
        architecture=model["architecture"],
        task=model["task"],
        classes=model["classes"],
        weights_sha256=model["weights_sha256"],
    )
    media: dict[str, MediaFile] = {}
    for stim in manifest["stimuli"]:
        for entry in stim["files"].values():
            if entry["path"] not in media:
                media[entry["path"]] = _store(
                    bundle_dir, entry, infos.get(entry["path"], {}), added
                )
        Stimulus.objects.create(
            bundle=bundle,
            stimulus_id=stim["id"],
            source_recording=stim["source"]["recording"],
            speaker=stim["source"]["speaker"],
            true_label=stim["true_label"],
            predicted_label=stim["predicted_label"],
            model_correct=stim["correct"],
            scores=stim["scores"],
            method=stim["method"],
            practice=stim["practice"],
            timeline=stim.get("timeline"),
            **_ground_truth(stim),
            **{
                role: media[stim["files"][role]["path"]]
                for role in ("original_audio", "visual_heatmap", "audible_heatmap", "plain_image")
            },
        )
    return bundle


def _ground_truth(stim: dict[str, Any]) -> dict[str, Any]:
    """The optional per-stimulus fields the designs, the export and the report read (absent: empty)."""
    audible = stim.get("label_audible") or {}
    return {
        "model_id": stim.get("model_id", ""),
        "cue": stim.get("cue"),
        "decision_basis": stim.get("decision_basis", ""),
        "relevance_in_cue": stim.get("relevance_in_cue"),
        "label_audible": audible.get("value"),
        "faithfulness": stim.get("faithfulness"),
    }


def _store(
    bundle_dir: Path, entry: dict[str, Any], info: dict[str, Any], added: list[Path]
) -> MediaFile:
    target = Path(settings.MEDIA_ROOT) / media_relative_path(
        entry["sha256"], media_type=entry["media_type"]
    )
    if not target.exists():
        added.append(target)
    return media_store(
        source=bundle_dir / entry["path"],
        media_type=entry["media_type"],
        sha256=entry["sha256"],
        info=info,
    )


def bundle_import_archive(*, archive: Path, name: str = "") -> Bundle:
    """Import a zipped bundle: check the archive, extract it to a scratch folder, import, clean up.

    Raises :class:`ArchiveError` (a :class:`BundleError`) for an unsafe archive before
    anything is written, and :class:`BundleError` for a bad bundle inside it.
    """
    scratch_root = Path(settings.UPLOAD_ROOT)
    scratch_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".extract-", dir=scratch_root))
    try:
        bundle_dir = archive_extract(archive=Path(archive), dest=scratch / "bundle")
        return bundle_import(bundle_dir=bundle_dir, name=name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def bundle_upload_store(*, upload: UploadedFile) -> Path:
    """Save an uploaded archive under ``UPLOAD_ROOT`` in chunks; refuse one that is too large.

    The stored name is random: the uploader's file name never becomes a path.
    """
    limit = ArchiveLimits.from_settings().max_total_bytes
    if upload.size is not None and upload.size > limit:
        raise ArchiveError([f"{upload.name}: {upload.size} bytes, more than the {limit} allowed"])
    root = Path(settings.UPLOAD_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"upload-{secrets.token_hex(16)}.zip"
    tmp = target.with_suffix(".part")
    with open(tmp, "xb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    tmp.replace(target)
    return target
