"""Uploaded archives are checked entry by entry, and every byte counted, before anything is written."""

from __future__ import annotations

import io
import stat
import struct
import wave
import zipfile
from pathlib import Path

import pytest

from studyapp.services.archives import ArchiveError, ArchiveLimits, archive_extract, archive_inspect

LIMITS = ArchiveLimits(
    max_files=50, max_file_bytes=2_000_000, max_total_bytes=5_000_000, max_ratio=100
)
MANIFEST = b'{"format": "hearxai-stimulus-bundle"}'


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(range(256)) * 8)
    return buffer.getvalue()


def _zip(path: Path, entries: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _refused(archive: Path, dest: Path, limits: ArchiveLimits = LIMITS) -> list[str]:
    with pytest.raises(ArchiveError) as info:
        archive_extract(archive=archive, dest=dest, limits=limits)
    assert not dest.exists(), "something was written for a refused archive"
    return info.value.problems


def test_a_clean_archive_is_extracted_byte_for_byte(tmp_path: Path) -> None:
    entries = {
        "manifest.json": MANIFEST,
        "files/a.wav": _wav(),
        "files/b.png": b"\x89PNG\r\n\x1a\n" + b"x" * 50,
    }
    out = archive_extract(
        archive=_zip(tmp_path / "ok.zip", entries), dest=tmp_path / "out", limits=LIMITS
    )
    assert {
        p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()
    } == entries


def test_a_bundle_inside_one_top_level_folder_is_found_and_archiver_debris_skipped(
    tmp_path: Path,
) -> None:
    entries = {
        "bundle/manifest.json": MANIFEST,
        "bundle/files/a.wav": _wav(),
        "__MACOSX/bundle/._a.wav": b"junk",
        "bundle/.DS_Store": b"junk",
    }
    out = archive_extract(
        archive=_zip(tmp_path / "nested.zip", entries), dest=tmp_path / "out", limits=LIMITS
    )
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "files/a.wav",
        "manifest.json",
    ]


@pytest.mark.parametrize(
    "name",
    [
        "../escape.json",
        "/etc/escape.json",
        "files/../../escape.json",
        "..\\escape.json",
        "C:/escape.json",
    ],
)
def test_it_refuses_paths_that_escape_the_folder(tmp_path: Path, name: str) -> None:
    archive = _zip(tmp_path / "bad.zip", {"manifest.json": MANIFEST, name: b"{}"})
    problems = _refused(archive, tmp_path / "out")
    assert any("escapes the bundle folder" in p for p in problems), problems
    assert not (tmp_path / "escape.json").exists()


def test_it_refuses_symbolic_links(tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("manifest.json", MANIFEST)
        link = zipfile.ZipInfo("files/a.wav")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    assert any("symbolic link" in p for p in _refused(archive, tmp_path / "out"))


def test_it_refuses_a_zip_bomb_by_its_compression_ratio(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "bomb.zip",
        {"manifest.json": MANIFEST, "files/a.wav": b"RIFF" + bytes(1_900_000)},
    )
    problems = _refused(archive, tmp_path / "out")
    assert any("compression ratio" in p and "zip bomb" in p for p in problems), problems


def test_it_refuses_an_entry_whose_header_lies_about_its_size(tmp_path: Path) -> None:
    payload = b"RIFF" + bytes(range(256)) * 400  # 102 kB that compress only moderately
    archive = _zip(tmp_path / "liar.zip", {"manifest.json": MANIFEST, "files/a.wav": payload})
    data = bytearray(archive.read_bytes())
    declared = 1000
    # Patch the uncompressed size in both the local header and the central directory.
    local = data.index(b"files/a.wav") - 30
    assert data[local : local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, local + 22, declared)
    for offset in _central_entries(data):
        if data[offset + 46 : offset + 46 + 11] == b"files/a.wav":
            struct.pack_into("<I", data, offset + 24, declared)
    archive.write_bytes(bytes(data))
    problems = _refused(archive, tmp_path / "out")
    assert any("files/a.wav" in p for p in problems), problems


def _central_entries(data: bytearray) -> list[int]:
    offsets, start = [], 0
    while (found := data.find(b"PK\x01\x02", start)) != -1:
        offsets.append(found)
        start = found + 4
    return offsets


def test_it_refuses_too_many_files_oversize_files_and_a_too_large_total(tmp_path: Path) -> None:
    many = {"manifest.json": MANIFEST, **{f"files/{i}.json": b"{}" for i in range(60)}}
    assert any(
        "61 files, more than the 50" in p
        for p in _refused(_zip(tmp_path / "many.zip", many), tmp_path / "o1")
    )
    big = {"manifest.json": MANIFEST, "files/a.wav": _wav() * 300}
    small_files = ArchiveLimits(
        max_files=50, max_file_bytes=100_000, max_total_bytes=10_000_000, max_ratio=1000
    )
    assert any(
        "more than the 100000 allowed per file" in p
        for p in _refused(_zip(tmp_path / "big.zip", big), tmp_path / "o2", small_files)
    )
    small_total = ArchiveLimits(
        max_files=50, max_file_bytes=10_000_000, max_total_bytes=100_000, max_ratio=1000
    )
    assert any(
        "unpacks to" in p and "more than the 100000 allowed" in p
        for p in _refused(_zip(tmp_path / "big2.zip", big), tmp_path / "o3", small_total)
    )


def test_it_refuses_files_that_are_not_part_of_a_bundle(tmp_path: Path) -> None:
    entries = {
        "manifest.json": MANIFEST,
        "files/run.sh": b"#!/bin/sh\n",
        "files/a.exe": b"MZ",
        "files/fake.wav": b"this is no wave file",
        "files/fake.png": b"GIF89a...",
    }
    problems = _refused(_zip(tmp_path / "types.zip", entries), tmp_path / "out")
    assert any("run.sh" in p and "not part of a bundle" in p for p in problems)
    assert any("a.exe" in p for p in problems)
    assert any("fake.wav: content is not a WAV file" in p for p in problems)
    assert any("fake.png: content is not a PNG file" in p for p in problems)


def test_it_lists_every_problem_of_an_archive_at_once(tmp_path: Path) -> None:
    entries = {
        "manifest.json": MANIFEST,
        "../up.json": b"{}",
        "files/x.sh": b"",
        "files/A.json": b"{}",
        "files/a.json": b"{}",
    }
    problems = _refused(_zip(tmp_path / "all.zip", entries), tmp_path / "out")
    assert len(problems) >= 3
    assert any("escapes" in p for p in problems) and any("x.sh" in p for p in problems)
    assert any("appears twice" in p for p in problems)


def test_it_refuses_an_archive_without_a_manifest_and_a_file_that_is_not_a_zip(
    tmp_path: Path,
) -> None:
    problems = _refused(
        _zip(tmp_path / "empty.zip", {"a/files/x.json": b"{}", "b/y.json": b"{}"}), tmp_path / "o1"
    )
    assert any("no manifest.json" in p for p in problems)
    not_zip = tmp_path / "bundle.zip"
    not_zip.write_bytes(b"PK but not really a zip file")
    assert _refused(not_zip, tmp_path / "o2") == ["bundle.zip: not a zip archive"]


def test_inspection_alone_writes_nothing(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "ok.zip", {"manifest.json": MANIFEST, "files/a.wav": _wav()})
    before = sorted(tmp_path.rglob("*"))
    plan = archive_inspect(archive=archive, limits=LIMITS)
    assert plan.entries == {"manifest.json": "manifest.json", "files/a.wav": "files/a.wav"}
    assert sorted(tmp_path.rglob("*")) == before


def test_it_refuses_an_entry_with_damaged_data(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / "damaged.zip",
        {"manifest.json": MANIFEST, "files/a.wav": _wav()},
        method=zipfile.ZIP_STORED,
    )
    data = bytearray(archive.read_bytes())
    middle = data.index(b"RIFF") + 200
    data[middle : middle + 8] = b"\xff" * 8
    archive.write_bytes(bytes(data))
    problems = _refused(archive, tmp_path / "out")
    assert any("files/a.wav: cannot be read" in p and "CRC" in p for p in problems), problems
