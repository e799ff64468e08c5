"""Stimulus bundle v1: the contract between ``explainer`` and ``studyapp``.

A bundle is a folder holding ``manifest.json`` and the files it names (under
``files/``, each named by the SHA-256 of its content). This module is the only
part of the platform that two packages share, so it uses the standard
library plus ``jsonschema`` and nothing else. The JSON Schema lives beside it in
``schemas/bundle-v1.schema.json``; ``docs/bundle-format.md`` documents it.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

BUNDLE_FORMAT = "hearxai-stimulus-bundle"
BUNDLE_VERSION = 1
MANIFEST_NAME = "manifest.json"
FILES_DIR = "files"
# Every stimulus carries these four files; the study shows the ones its condition needs.
FILE_ROLES = ("original_audio", "visual_heatmap", "audible_heatmap", "plain_image")
ROLE_MEDIA_TYPES = {
    "original_audio": "audio/wav",
    "visual_heatmap": "image/png",
    "audible_heatmap": "audio/wav",
    "plain_image": "image/png",
}
_SCHEMA_PATH = Path(__file__).with_name("schemas") / "bundle-v1.schema.json"


class BundleError(ValueError):
    """A bundle that cannot be used; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        head = problems[0] if problems else "invalid bundle"
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(head + more)


@lru_cache(maxsize=1)
def manifest_schema() -> dict[str, Any]:
    """Return the JSON Schema of manifest v1 as a dict."""
    return json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks so large files stay out of memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_file_name(sha256: str, suffix: str) -> str:
    """Relative path of a content-addressed file inside a bundle."""
    return f"{FILES_DIR}/{sha256}{suffix}"


def dumps_manifest(manifest: dict[str, Any]) -> str:
    """Canonical text of a manifest: sorted keys, two-space indent, final newline.

    Canonical output is what makes a re-run with the same inputs byte-identical.
    """
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_manifest(bundle_dir: Path, manifest: dict[str, Any]) -> Path:
    """Validate ``manifest`` and write it atomically into ``bundle_dir``."""
    problems = validate_manifest(manifest)
    if problems:
        raise BundleError(problems)
    target = Path(bundle_dir) / MANIFEST_NAME
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(dumps_manifest(manifest), encoding="utf-8")
    tmp.replace(target)
    return target


def read_manifest(bundle_dir: Path) -> dict[str, Any]:
    """Read and schema-check ``manifest.json``; raise :class:`BundleError` if unusable."""
    path = Path(bundle_dir) / MANIFEST_NAME
    if not path.is_file():
        raise BundleError([f"{path}: no manifest.json in the bundle folder"])
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError([f"{path}: not valid JSON ({exc})"]) from exc
    problems = validate_manifest(manifest)
    if problems:
        raise BundleError(problems)
    return manifest


def validate_manifest(manifest: Any) -> list[str]:
    """Every problem with a manifest's structure and internal consistency (empty if none)."""
    import jsonschema  # imported here so reading the constants costs nothing

    if not isinstance(manifest, dict):
        return ["manifest: must be a JSON object"]
    version = manifest.get("format_version")
    if manifest.get("format") != BUNDLE_FORMAT or version != BUNDLE_VERSION:
        return [
            f"manifest: unsupported bundle format {manifest.get('format')!r} version "
            f"{version!r} (this software reads {BUNDLE_FORMAT!r} version {BUNDLE_VERSION})"
        ]
    validator = jsonschema.Draft202012Validator(manifest_schema())
    problems = [
        f"manifest{_json_path(manifest, err.absolute_path)}: {err.message}"
        for err in sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    ]
    if not problems:
        problems.extend(_consistency_problems(manifest))
    return problems


def _json_path(manifest: dict[str, Any], parts: Any) -> str:
    """``.stimuli[3] (s0003-lrp).faithfulness.avg_drop``: a stimulus is named by its id too,
    so a researcher finds it without counting."""
    parts = list(parts)
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    if len(parts) >= 2 and parts[0] == "stimuli" and isinstance(parts[1], int):
        stim = manifest["stimuli"][parts[1]]
        if isinstance(stim, dict) and isinstance(stim.get("id"), str):
            head = f".stimuli[{parts[1]}]"
            text = f"{head} ({stim['id']}){text[len(head) :]}"
    return text


def _consistency_problems(manifest: dict[str, Any]) -> list[str]:
    """Rules a JSON Schema cannot express: unique ids, labels among the classes."""
    problems: list[str] = []
    classes = manifest["model"]["classes"]
    methods = set(manifest["methods"])
    seen: set[str] = set()
    for index, stim in enumerate(manifest["stimuli"]):
        where = f"manifest.stimuli[{index}] ({stim['id']})"
        if stim["id"] in seen:
            problems.append(f"{where}: duplicate stimulus id")
        seen.add(stim["id"])
        for key in ("true_label", "predicted_label"):
            if stim[key] not in classes:
                problems.append(f"{where}: {key} {stim[key]!r} is not one of the model's classes")
        if stim["correct"] != (stim["true_label"] == stim["predicted_label"]):
            problems.append(f"{where}: 'correct' disagrees with the true and predicted labels")
        if len(stim["scores"]) != len(classes):
            problems.append(f"{where}: {len(stim['scores'])} scores for {len(classes)} classes")
        if stim["method"] not in methods:
            problems.append(f"{where}: method {stim['method']!r} is not declared in 'methods'")
        for _role, entry in stim["files"].items():
            if not is_safe_relative_path(entry["path"]):
                problems.append(f"{where}: file {entry['path']!r} escapes the bundle folder")
    return problems


def is_safe_relative_path(path: str) -> bool:
    """True for a relative POSIX path that stays inside its folder."""
    pure = PurePosixPath(path)
    return (
        bool(path)
        and "\\" not in path
        and not pure.is_absolute()
        and ".." not in pure.parts
        and ":" not in pure.parts[0]
    )


def check_bundle_files(bundle_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """Problems with the files a manifest names: missing, links, wrong checksum."""
    root = Path(bundle_dir).resolve()
    problems: list[str] = []
    checked: dict[str, str | None] = {}
    for stim in manifest["stimuli"]:
        for role, entry in sorted(stim["files"].items()):
            rel = entry["path"]
            if rel not in checked:
                checked[rel] = _file_problem(root, rel, entry["sha256"])
            if checked[rel]:
                problems.append(f"stimulus {stim['id']} {role}: {checked[rel]}")
    return problems


def _file_problem(root: Path, rel: str, expected_sha: str) -> str | None:
    if not is_safe_relative_path(rel):
        return f"{rel}: path escapes the bundle folder"
    path = root / rel
    if path.is_symlink():
        return f"{rel}: is a symbolic link (not allowed in bundles)"
    if not path.is_file():
        return f"{rel}: file is missing"
    if root not in path.resolve().parents:
        return f"{rel}: path escapes the bundle folder"
    actual = sha256_file(path)
    if actual != expected_sha:
        return f"{rel}: checksum mismatch (manifest {expected_sha[:12]}..., file {actual[:12]}...)"
    return None


# A study whose participants reach this accuracy by answering the label they hear cannot
# show what an explanation adds; the bundle command, the import job and the study page
# all warn with this one rule.
HEARD_LABEL_BASELINE_WARN = 0.9


def heard_label_baseline_warnings(
    manifest: dict[str, Any], tasks: tuple[str, ...] = ()
) -> list[str]:
    """One warning per task (all, or those in ``tasks``) whose heard-label baseline is 0.9 or more."""
    warnings = []
    for task, entry in sorted((manifest.get("heard_label_baseline") or {}).items()):
        value = entry.get("value")
        if (tasks and task not in tasks) or value is None or value < HEARD_LABEL_BASELINE_WARN:
            continue
        how = f" ({entry['how']})" if entry.get("how") else ""
        warnings.append(
            f"heard-label baseline for {task} is {value:.0%}{how}: answering the spoken label "
            "without any explanation already scores this well, so the study cannot show what "
            "the explanation adds"
        )
    return warnings
