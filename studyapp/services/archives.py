"""Safe extraction of an uploaded bundle archive (zip).

An upload is untrusted: it may try to write outside its folder (``../``, absolute
paths, drive letters, backslashes), smuggle in links or device files, exhaust the
disk (zip bombs: huge declared sizes, extreme compression ratios, or headers that
lie about sizes), flood the folder with files, or carry files that are not part of
a bundle. Every entry is checked, and every byte decompressed and counted, before
anything is written; only then is the archive extracted into a fresh folder. Any
problem raises :class:`ArchiveError` listing all of them.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.conf import settings

from contracts.bundle_format import MANIFEST_NAME, BundleError, is_safe_relative_path

ALLOWED_SUFFIXES = {
    ".json": b"",
    ".wav": b"RIFF",
    ".png": b"\x89PNG\r\n\x1a\n",
    ".md": b"",
    ".txt": b"",
}
# Debris that archivers add on their own; skipped rather than refused.
IGNORED_PARTS = {"__MACOSX", ".DS_Store", "Thumbs.db"}
DEFAULT_MAX_RATIO = 100.0
# Small files compress extremely well without being dangerous; judge ratios above this size.
RATIO_FLOOR_BYTES = 1 << 20
READ_CHUNK = 1 << 16


class ArchiveError(BundleError):
    """An archive refused before extraction; ``problems`` lists every reason."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_files: int
    max_file_bytes: int
    max_total_bytes: int
    max_ratio: float = DEFAULT_MAX_RATIO

    @classmethod
    def from_settings(cls) -> ArchiveLimits:
        """Limits from the ``BUNDLE_MAX_*`` settings (environment ``HEARXAI_BUNDLE_MAX_*``)."""
        return cls(
            max_files=settings.BUNDLE_MAX_FILES,
            max_file_bytes=settings.BUNDLE_MAX_FILE_BYTES,
            max_total_bytes=settings.BUNDLE_MAX_TOTAL_BYTES,
            max_ratio=float(getattr(settings, "BUNDLE_MAX_COMPRESSION_RATIO", DEFAULT_MAX_RATIO)),
        )


@dataclass(frozen=True)
class ArchivePlan:
    """What extraction will write: entries (archive name -> path below the bundle root)."""

    root: str
    entries: dict[str, str]
    total_bytes: int


def _ignored(name: str) -> bool:
    return any(part in IGNORED_PARTS or part.startswith("._") for part in PurePosixPath(name).parts)


def _entry_kind_problem(info: zipfile.ZipInfo) -> str | None:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        return f"{info.filename}: is a symbolic link (links are not allowed)"
    if info.create_system == 3 and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"{info.filename}: is a special file, not a regular file"
    if info.flag_bits & 0x1:
        return f"{info.filename}: is encrypted"
    return None


def _entry_problems(info: zipfile.ZipInfo, limits: ArchiveLimits) -> list[str]:
    name = info.filename
    if not is_safe_relative_path(name.rstrip("/")) or "\x00" in name:
        return [f"{name!r}: path escapes the bundle folder"]
    problems = [p for p in [_entry_kind_problem(info)] if p]
    if info.is_dir():
        return problems
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        problems.append(
            f"{name}: file type {suffix or '(none)'!r} is not part of a bundle "
            f"(allowed: {', '.join(sorted(ALLOWED_SUFFIXES))})"
        )
    if info.file_size > limits.max_file_bytes:
        problems.append(
            f"{name}: {info.file_size} bytes, more than the {limits.max_file_bytes} allowed per file"
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
        problems.append(
            f"{name}: compression ratio {ratio:.0f}:1 exceeds {limits.max_ratio:.0f}:1 (zip bomb?)"
        )
    return problems


def _bundle_root(names: list[str]) -> tuple[str, list[str]]:
    """The folder inside the archive that holds ``manifest.json`` (top level or one folder down)."""
    if MANIFEST_NAME in names:
        return "", []
    tops = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
    if len(tops) == 1:
        top = tops.pop()
        if f"{top}/{MANIFEST_NAME}" in names:
            return top, []
    return "", [f"no {MANIFEST_NAME} at the top of the archive or in its single top-level folder"]


def archive_inspect(*, archive: Path, limits: ArchiveLimits | None = None) -> ArchivePlan:
    """Check every entry's header and content without writing anything.

    Raises
    ------
    ArchiveError
        Listing every problem found (the archive's name is part of each message's context).
    """
    archive = Path(archive)
    files, root = _inspect(
        archive, archive.name, limits or ArchiveLimits.from_settings(), read_content=True
    )
    prefix = f"{root}/" if root else ""
    entries = {
        i.filename: i.filename[len(prefix) :] for i in files if i.filename.startswith(prefix)
    }
    return ArchivePlan(root, entries, sum(i.file_size for i in files))


def archive_check_headers(
    *, source: Path | BinaryIO, name: str, limits: ArchiveLimits | None = None
) -> None:
    """The quick check of an upload before it is stored: every entry's header, nothing decompressed.

    Refuses paths out of the folder, links and special files, files that are not part of
    a bundle, too many or too large files and declared zip bombs, in milliseconds; the
    import job then decompresses every entry (:func:`archive_inspect`) before extracting.

    Raises
    ------
    ArchiveError
        Listing every problem found.
    """
    _inspect(source, name, limits or ArchiveLimits.from_settings(), read_content=False)


def _inspect(
    source: Path | BinaryIO, name: str, limits: ArchiveLimits, *, read_content: bool
) -> tuple[list[zipfile.ZipInfo], str]:
    """(files, bundle root) of a zip that passed every check; else :class:`ArchiveError`."""
    if not zipfile.is_zipfile(source):
        raise ArchiveError([f"{name}: not a zip archive"])
    try:
        with zipfile.ZipFile(source) as zf:
            files, root, problems = _all_problems(zf, limits, read_content=read_content)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ArchiveError([f"{name}: damaged zip archive ({exc})"]) from None
    if problems:
        raise ArchiveError(problems)
    return files, root


def _all_problems(
    zf: zipfile.ZipFile, limits: ArchiveLimits, *, read_content: bool = True
) -> tuple[list[zipfile.ZipInfo], str, list[str]]:
    """(files to extract, bundle root inside the archive, every problem found)."""
    infos = [i for i in zf.infolist() if not _ignored(i.filename)]
    files = [i for i in infos if not i.is_dir()]
    overall = _archive_problems(files, limits)
    per_entry = {i.filename: _entry_problems(i, limits) for i in infos}
    root, root_problems = _bundle_root([i.filename for i in files])
    problems = (
        overall
        + _duplicates(infos)
        + [p for found in per_entry.values() for p in found]
        + root_problems
    )
    if not overall and read_content:
        # Headers can lie about sizes: decompress every entry whose header passed, counting
        # bytes (never beyond the limits) and keeping nothing, before a single byte is written.
        problems += [
            p for i in files if not per_entry[i.filename] and (p := _content_problem(zf, i, limits))
        ]
    return files, root, problems


def _archive_problems(files: list[zipfile.ZipInfo], limits: ArchiveLimits) -> list[str]:
    """Problems of the archive as a whole: file count, total size, overall compression ratio."""
    problems: list[str] = []
    if len(files) > limits.max_files:
        problems.append(f"{len(files)} files, more than the {limits.max_files} allowed")
    total = sum(i.file_size for i in files)
    packed = sum(i.compress_size for i in files)
    if total > limits.max_total_bytes:
        problems.append(
            f"archive unpacks to {total} bytes, more than the {limits.max_total_bytes} allowed"
        )
    elif total > RATIO_FLOOR_BYTES and total / max(packed, 1) > limits.max_ratio:
        problems.append(
            f"archive compression ratio {total / max(packed, 1):.0f}:1 exceeds "
            f"{limits.max_ratio:.0f}:1 (zip bomb?)"
        )
    return problems


def _duplicates(infos: list[zipfile.ZipInfo]) -> list[str]:
    # Case-insensitively: two names that differ only in case collide on many file systems.
    seen: set[str] = set()
    problems = []
    for info in infos:
        key = info.filename.rstrip("/").lower()
        if key in seen:
            problems.append(f"{info.filename}: appears twice in the archive")
        seen.add(key)
    return problems


def _content_problem(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits
) -> str | None:
    """Decompress one entry without keeping it: size as declared, CRC intact, right magic bytes."""
    cap = min(info.file_size, limits.max_file_bytes)
    seen = 0
    head = b""
    try:
        with zf.open(info) as handle:
            while block := handle.read(READ_CHUNK):
                if len(head) < 16:
                    head += block[:16]
                seen += len(block)
                if seen > cap:
                    return (
                        f"{info.filename}: unpacks to more than its declared {info.file_size} bytes"
                    )
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        NotImplementedError,
    ) as exc:
        return f"{info.filename}: cannot be read ({exc})"
    magic = ALLOWED_SUFFIXES[PurePosixPath(info.filename).suffix.lower()]
    if magic and not head.startswith(magic):
        return f"{info.filename}: content is not a {PurePosixPath(info.filename).suffix[1:].upper()} file"
    return None


def archive_extract(*, archive: Path, dest: Path, limits: ArchiveLimits | None = None) -> Path:
    """Extract a checked bundle archive into the new folder ``dest``; return the bundle folder.

    Nothing is written unless :func:`archive_inspect` passes; a failure while writing
    removes ``dest`` again.
    """
    plan = archive_inspect(archive=archive, limits=limits)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    try:
        with zipfile.ZipFile(archive) as zf:
            for name, rel in plan.entries.items():
                target = dest.joinpath(*PurePosixPath(rel).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, open(target, "xb") as out:
                    shutil.copyfileobj(src, out, READ_CHUNK)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest
