"""Checking a bundle: the manifest against the schema, and every file it names."""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from contracts import bundle_format as bf
from contracts import bundle_media


def validate_bundle(bundle_dir: Path) -> list[str]:
    """Every problem with a bundle: schema, checksums, audio and images (empty if none).

    Checks the manifest against the v1 schema and its own consistency, then
    :func:`validate_files`.
    """
    bundle_dir = Path(bundle_dir)
    try:
        manifest = bf.read_manifest(bundle_dir)
    except bf.BundleError as exc:
        return list(exc.problems)
    return validate_files(bundle_dir, manifest)


def validate_files(
    bundle_dir: Path, manifest: dict[str, Any], *, pool: Executor | None = None
) -> list[str]:
    """Every problem with the files of a schema-valid manifest (empty if none).

    Every file exists, is no link, stays inside the folder and has its checksum; every
    WAV passes the contract's rule (:mod:`contracts.bundle_media`: decodes, mono at the
    manifest's rate, no longer than ``max_duration_s``, finite, not clipped, not
    silent); every PNG decodes (and, where a stimulus gives a
    ``timeline``, has its size); loudness-matched pairs really match; timelines are
    spans inside their images; no file in ``files/`` is left unreferenced. Files are
    decoded in ``pool`` when one is given.
    """
    bundle_dir = Path(bundle_dir)
    problems = bf.check_bundle_files(bundle_dir, manifest)
    jobs: dict[str, tuple[Any, ...]] = {}
    for stim in manifest["stimuli"]:
        for entry in stim["files"].values():
            if entry["path"] not in jobs and _decodable(bundle_dir, entry["path"]):
                jobs[entry["path"]] = (
                    str(bundle_dir),
                    entry["path"],
                    entry["media_type"],
                    manifest["audio"],
                    stim.get("timeline"),
                )
    columns = list(zip(*jobs.values(), strict=True)) or [()] * 5
    mapped = (
        pool.map(_check_file, *columns, chunksize=32)
        if pool is not None
        else map(_check_file, *columns)
    )
    decoded = dict(zip(jobs, mapped, strict=True))
    for stim in manifest["stimuli"]:
        for role, entry in sorted(stim["files"].items()):
            problems += [
                f"stimulus {stim['id']} {role}: {p}"
                for p in decoded.get(entry["path"], ([], None))[0]
            ]
        problems += _stimulus_problems(stim, manifest, decoded)
    return problems + _unreferenced(bundle_dir, manifest)


def _decodable(bundle_dir: Path, rel: str) -> bool:
    path = bundle_dir / rel
    return bf.is_safe_relative_path(rel) and not path.is_symlink() and path.is_file()


def _check_file(
    root: str, rel: str, media_type: str, audio: dict[str, Any], timeline: dict[str, Any] | None
) -> tuple[list[str], Any]:
    """Problems with one file, and its RMS in dBFS (audio) for the loudness check."""
    path = Path(root) / rel
    if media_type == "audio/wav":
        problems, samples = bundle_media.read_wav(
            path,
            expected_rate=audio["sample_rate"],
            max_duration_s=audio.get("max_duration_s"),
            label=rel,
        )
        level = None if problems else bundle_media.dbfs(bundle_media.rms(samples))
        return problems, level
    return _check_png(path, rel, timeline), None


def _check_png(path: Path, label: str, timeline: dict[str, Any] | None) -> list[str]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            image.load()
            size, kind = image.size, image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return [f"{label}: cannot decode as an image ({exc})"]
    problems = [] if kind == "PNG" else [f"{label}: is {kind}, not PNG"]
    if timeline and size[0] != timeline["width_px"]:
        problems.append(f"{label}: {size[0]} px wide, the timeline says {timeline['width_px']}")
    if timeline and "height_px" in timeline and size[1] != timeline["height_px"]:
        problems.append(f"{label}: {size[1]} px high, the timeline says {timeline['height_px']}")
    return problems


def _stimulus_problems(
    stim: dict[str, Any], manifest: dict[str, Any], decoded: dict[str, tuple[list[str], Any]]
) -> list[str]:
    problems = []
    timeline = stim.get("timeline")
    if timeline and not (
        0 <= timeline["x0_px"] < timeline["x1_px"] <= timeline["width_px"]
        and timeline["t0_s"] < timeline["t1_s"]
    ):
        problems.append(
            f"stimulus {stim['id']}: timeline {timeline} is not a left-to-right span inside the image"
        )
    levels = [
        decoded.get(stim["files"][role]["path"], ([], None))[1]
        for role in ("original_audio", "audible_heatmap")
    ]
    if None not in levels:
        mismatch = bundle_media.loudness_problem(
            stim["id"], *levels, matching=manifest["audio"]["loudness_matching"]
        )
        problems += [mismatch] if mismatch else []
    return problems


def _unreferenced(bundle_dir: Path, manifest: dict[str, Any]) -> list[str]:
    folder = bundle_dir / bf.FILES_DIR
    if not folder.is_dir():
        return []
    named = {e["path"] for s in manifest["stimuli"] for e in s["files"].values()}
    extra = sorted(
        f"{bf.FILES_DIR}/{p.name}"
        for p in folder.iterdir()
        if f"{bf.FILES_DIR}/{p.name}" not in named
    )
    return [f"{p}: in the bundle but not named by the manifest" for p in extra]
