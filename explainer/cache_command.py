"""``python -m explainer cache info|clear``: how big the preprocessing cache is, and emptying it."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from explainer.cache import cache_entries, cache_limit_bytes, default_cache_dir


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["info", "clear"], help="show the size, or delete all")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="cache folder (default $HEARXAI_CACHE_DIR or ~/.cache/hearxai/preprocessed)",
    )


def run(args: argparse.Namespace) -> int:
    cache_dir = args.cache_dir or default_cache_dir()
    entries = cache_entries(cache_dir)
    total = sum(size for _, size, _ in entries)
    if args.action == "info":
        print(
            f"{cache_dir}: {len(entries)} entries, {total / 1e6:.1f} MB "
            f"(limit {cache_limit_bytes() / 1e9:g} GB)"
        )
        return 0
    for folder, _, _ in entries:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{cache_dir}: deleted {len(entries)} entries, {total / 1e6:.1f} MB")
    return 0
