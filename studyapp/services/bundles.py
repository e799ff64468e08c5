"""Importing a stimulus bundle: validate everything, then write everything atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from explainer.bundle_format import BundleError, check_bundle_files, read_manifest, sha256_bytes
from studyapp.models import Bundle, MediaFile, Stimulus
from studyapp.services.bundle_checks import media_problems
from studyapp.services.media import media_relative_path, media_store


def bundle_validate(*, bundle_dir: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Return the manifest and media info, or raise :class:`BundleError` listing every problem."""
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise BundleError([f"{bundle_dir}: not a folder"])
    manifest = read_manifest(bundle_dir)
    problems = check_bundle_files(bundle_dir, manifest)
    if problems:
        raise BundleError(problems)
    problems, infos = media_problems(bundle_dir, manifest)
    if problems:
        raise BundleError(problems)
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
    bundle_dir: Path, manifest: dict[str, Any], manifest_sha: str,
    infos: dict[str, dict[str, Any]], name: str, added: list[Path],
) -> Bundle:
    model = manifest["model"]
    bundle = Bundle.objects.create(
        name=name or f"{model['architecture']}-{model['task']}-{manifest_sha[:8]}",
        manifest=manifest, manifest_sha256=manifest_sha, format_version=manifest["format_version"],
        architecture=model["architecture"], task=model["task"], classes=model["classes"],
        weights_sha256=model["weights_sha256"],
    )
    media: dict[str, MediaFile] = {}
    for stim in manifest["stimuli"]:
        for entry in stim["files"].values():
            if entry["path"] not in media:
                media[entry["path"]] = _store(bundle_dir, entry, infos.get(entry["path"], {}), added)
        Stimulus.objects.create(
            bundle=bundle, stimulus_id=stim["id"], source_recording=stim["source"]["recording"],
            speaker=stim["source"]["speaker"], true_label=stim["true_label"],
            predicted_label=stim["predicted_label"], model_correct=stim["correct"], scores=stim["scores"],
            method=stim["method"], practice=stim["practice"], timeline=stim.get("timeline"),
            **{role: media[stim["files"][role]["path"]] for role in
               ("original_audio", "visual_heatmap", "audible_heatmap", "plain_image")},
        )
    return bundle


def _store(bundle_dir: Path, entry: dict[str, Any], info: dict[str, Any], added: list[Path]) -> MediaFile:
    target = Path(settings.MEDIA_ROOT) / media_relative_path(entry["sha256"], entry["media_type"])
    if not target.exists():
        added.append(target)
    return media_store(source=bundle_dir / entry["path"], media_type=entry["media_type"], sha256=entry["sha256"], info=info)
