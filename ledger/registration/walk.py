"""Streaming file discovery: folders recursed lazily, loops and unreadable paths reported.

Yields one item per candidate file, in a stable order, without ever listing the
whole tree: a curator's 200,000 files are discovered as they are registered.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SKIPPED_NAMES = frozenset({"DICOMDIR", "Thumbs.db"})  # indexes and OS litter, not images


@dataclass(frozen=True)
class Found:
    path: Path
    problem: str | None = None  # why it cannot be read, if so


def iter_files(paths: Sequence[Path]) -> Iterator[Found]:
    for path in paths:
        yield from _walk_root(path)


def _walk_root(path: Path) -> Iterator[Found]:
    try:
        info = path.stat()
    except OSError as exc:
        yield Found(path, _why(exc))
        return
    if stat.S_ISDIR(info.st_mode):
        yield from _walk_dir(path, {(info.st_dev, info.st_ino)})
    elif stat.S_ISREG(info.st_mode):
        yield Found(path)
    else:
        yield Found(path, "not a regular file")


def _walk_dir(directory: Path, ancestors: set[tuple[int, int]]) -> Iterator[Found]:
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        yield Found(directory, _why(exc))
        return
    for entry in entries:
        if entry.name.startswith(".") or entry.name in SKIPPED_NAMES:
            continue
        path = Path(entry.path)
        try:
            info = entry.stat(follow_symlinks=True)
        except OSError as exc:
            yield Found(path, _why(exc))
            continue
        if stat.S_ISDIR(info.st_mode):
            key = (info.st_dev, info.st_ino)
            if key in ancestors:
                yield Found(path, "symlink loop (links back to a folder above it)")
                continue
            yield from _walk_dir(path, ancestors | {key})
        elif stat.S_ISREG(info.st_mode):
            yield Found(path)
        else:
            yield Found(path, "not a regular file")


def _why(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT:
        return "no such file or folder"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return exc.strerror or str(exc)
