"""The work folder every worker sees at the same path: the plan, rendered files, chunk records.

::

    WORK/<digest[:16]>/plan.json          the plan as canonical JSON; its SHA-256 is the digest
                       bundle/files/      rendered files (the folder becomes the bundle)
                       chunks/<key>.json  records of finished chunks
                       attempts/<id>/     a running attempt's private output
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import bundle_format as bf
from explainer.errors import UserError

WORK_DIR_NAME = ".hearxai-chunks"
PLAN_NAME = "plan.json"


@dataclass(frozen=True)
class WorkFolder:
    """One plan's folder inside the work folder (see the module docstring)."""

    path: Path

    @property
    def plan(self) -> Path:
        return self.path / PLAN_NAME

    @property
    def bundle(self) -> Path:
        return self.path / "bundle"

    @property
    def chunks(self) -> Path:
        return self.path / "chunks"

    @property
    def attempts(self) -> Path:
        return self.path / "attempts"

    def chunk_record(self, key: str) -> Path:
        return self.chunks / f"{key}.json"


def canonical_plan(spec: dict[str, Any]) -> bytes:
    """The plan as canonical JSON bytes (sorted keys, no spaces): what its digest is taken of."""
    return json.dumps(
        spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def plan_digest(spec: dict[str, Any]) -> str:
    """SHA-256 (hex) of :func:`canonical_plan`."""
    return hashlib.sha256(canonical_plan(spec)).hexdigest()


def chunk_key(digest: str, indices: Sequence[int]) -> str:
    """The chunk's hash: the plan digest and the stimulus indices it renders."""
    return hashlib.sha256(f"{digest}:{','.join(str(i) for i in indices)}".encode()).hexdigest()[:32]


def prepare_work_folder(spec: dict[str, Any], root: Path) -> tuple[WorkFolder, str]:
    """Create the plan's folder under ``root`` and write the plan (once); return it and the digest."""
    data = canonical_plan(spec)
    digest = hashlib.sha256(data).hexdigest()
    folder = WorkFolder(Path(root) / digest[:16])
    for path in (folder.bundle / bf.FILES_DIR, folder.chunks, folder.attempts):
        path.mkdir(parents=True, exist_ok=True)
    if not folder.plan.is_file():
        write_atomic(folder.plan, data)
    elif folder.plan.read_bytes() != data:
        raise UserError(f"{folder.plan}: holds another plan; remove {folder.path} and run again")
    return folder, digest


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary name unique across machines, then rename (readers never see a part)."""
    tmp = path.with_name(
        f".{path.name}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    )
    tmp.write_bytes(data)
    os.replace(tmp, path)


def finished_records(
    folder: WorkFolder, digest: str, indices: Sequence[int]
) -> list[dict[str, Any]] | None:
    """The records of a finished chunk, or None if it is not done (or its files are gone)."""
    try:
        record = json.loads(
            folder.chunk_record(chunk_key(digest, indices)).read_text(encoding="utf-8")
        )
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError):  # written atomically, so only a damaged disk gets here
        return None
    if record.get("plan") != digest or record.get("indices") != list(indices):
        return None
    paths = {entry["path"] for r in record["records"] for entry in r["files"].values()}
    if not all((folder.bundle / path).is_file() for path in paths):
        return None
    return record["records"]
