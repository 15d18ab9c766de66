"""Streaming file discovery: folders recursed lazily, loops and unreadable paths reported.

Yields one item per candidate file, in a stable order, without ever listing the
whole tree: a curator's 200,000 files are discovered as they are registered.

Symlinks are followed, but every real directory and file is visited once, by its
(st_dev, st_ino): a second path to a folder already walked, or to a file already
yielded, is skipped silently. So the work is bounded by the number of inodes,
not of paths: a loop-free maze of 22 levels with two links each has 4 million
paths and 22 folders. A link back to a folder above itself is still reported as
a symlink loop.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SKIPPED_NAMES = frozenset({"DICOMDIR", "Thumbs.db"})  # indexes and OS litter, not images


@dataclass(frozen=True)
class Found:
    path: Path
    problem: str | None = None  # why it cannot be read, if so


@dataclass
class Visited:
    """The inodes a walk has visited; pass one in to count them."""

    directories: set[tuple[int, int]] = field(default_factory=set)
    files: set[tuple[int, int]] = field(default_factory=set)


def iter_files(paths: Sequence[Path], visited: Visited | None = None) -> Iterator[Found]:
    seen = visited if visited is not None else Visited()
    for path in paths:
        yield from _walk_root(path, seen)


def _walk_root(path: Path, seen: Visited) -> Iterator[Found]:
    try:
        info = path.stat()
    except OSError as exc:
        yield Found(path, _why(exc))
        return
    key = (info.st_dev, info.st_ino)
    if stat.S_ISDIR(info.st_mode):
        if key not in seen.directories:
            seen.directories.add(key)
            yield from _walk_dir(path, {key}, seen)
    elif stat.S_ISREG(info.st_mode):
        if key not in seen.files:
            seen.files.add(key)
            yield Found(path)
    else:
        yield Found(path, "not a regular file")


def _walk_dir(directory: Path, ancestors: set[tuple[int, int]], seen: Visited) -> Iterator[Found]:
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
        key = (info.st_dev, info.st_ino)
        if stat.S_ISDIR(info.st_mode):
            if key in ancestors:
                yield Found(path, "symlink loop (links back to a folder above it)")
                continue
            if key in seen.directories:
                continue  # walked already, through another path
            seen.directories.add(key)
            yield from _walk_dir(path, ancestors | {key}, seen)
        elif stat.S_ISREG(info.st_mode):
            if key not in seen.files:
                seen.files.add(key)
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
