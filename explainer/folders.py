"""Folders written whole: built under a hidden name beside their place, then moved in.

A reader never sees half a corpus: until the last file is written the folder has a
hidden temporary name, and an old folder at the place is removed only once the new
one has taken it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A new empty folder beside ``out`` to build in; it replaces ``out`` when the block
    ends, and is removed (``out`` left as it was) when the block raises."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the folder is for everyone
    try:
        yield staging
        replace_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def replace_folder(built: Path, out: Path) -> None:
    """Move the finished folder ``built`` to ``out``; an old ``out`` is replaced, not merged,
    and removed only after the new one is in place."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    built.rename(out)
    shutil.rmtree(old, ignore_errors=True)
