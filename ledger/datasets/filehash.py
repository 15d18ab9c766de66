"""Size and SHA-256 of many files, on every core: the fast path of create and verify.

hashlib releases the GIL while it hashes a buffer, so threads hash files in parallel; each
thread reads into one reused buffer (no allocation per block).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import InputError, show_path

_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class FileDigest:
    path: str  # relative to the folder walked, '/'-separated
    size: int
    sha256: str


def walk(folder: Path, *, skip: frozenset[Path] = frozenset()) -> list[str]:
    """Every regular file under ``folder`` (symlinks to files followed), relative and
    '/'-separated, sorted; ``skip`` holds resolved paths to leave out (the lock itself)."""
    if not folder.is_dir():
        raise InputError(f"{show_path(folder)}: not a folder")
    found: list[str] = []
    for root, dirs, files in os.walk(folder, onerror=_raise):
        dirs.sort()
        for name in files:
            full = Path(root, name)
            if not full.is_file() or (skip and full.resolve() in skip):
                continue
            found.append(full.relative_to(folder).as_posix())
    return sorted(found)


def _raise(exc: OSError) -> None:
    raise InputError(f"{show_path(exc.filename or '')}: cannot read: {exc.strerror}") from exc


def digest_file(path: Path, buffer: bytearray | None = None) -> tuple[int, str]:
    """(size, hex SHA-256) of one file; InputError names it if it cannot be read."""
    view = memoryview(buffer if buffer is not None else bytearray(_BLOCK))
    sha = hashlib.sha256()
    size = 0
    try:
        with path.open("rb", buffering=0) as handle:
            while n := handle.readinto(view):
                sha.update(view[:n])
                size += n
    except OSError as exc:
        raise InputError(f"{show_path(path)}: cannot read: {exc.strerror or exc}") from exc
    return size, sha.hexdigest()


def digest_files(folder: Path, paths: Sequence[str], *, workers: int = 0
                 ) -> Iterator[FileDigest]:  # fmt: skip
    """``FileDigest`` of each of ``paths`` (relative to ``folder``), in order."""
    count = workers or os.cpu_count() or 1
    if count == 1 or len(paths) < 64:
        buffer = bytearray(_BLOCK)
        for rel in paths:
            yield FileDigest(rel, *digest_file(folder / rel, buffer))
        return
    chunks = [paths[i : i + 256] for i in range(0, len(paths), 256)]

    def run(chunk: Sequence[str]) -> list[FileDigest]:
        buffer = bytearray(_BLOCK)
        return [FileDigest(rel, *digest_file(folder / rel, buffer)) for rel in chunk]

    with ThreadPoolExecutor(max_workers=count) as pool:
        for done in pool.map(run, chunks):
            yield from done
