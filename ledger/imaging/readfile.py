"""Read a file's bytes once, refusing anything that is not a stable regular file.

The bytes are read in one pass and hashed (``file_sha256``); every later step
(format sniffing, DICOM parsing, decoding) works on those bytes, never on the
path again. The file is stat'ed before opening, after opening and after
reading: a change of size, modification time or identity in between means the
file changed while it was being read, and the bytes are refused rather than
registered under a digest nobody can reproduce.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass

from ledger.errors import InputError, PolicyError

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
# Never block on a FIFO that raced in after the stat; no effect on regular files.
_OPEN_FLAGS |= getattr(os, "O_NONBLOCK", 0)


@dataclass(frozen=True)
class FileBytes:
    data: bytes
    sha256: str
    size: int


def read_file(path: str | os.PathLike[str], *, max_bytes: int) -> FileBytes:
    """Return the file's bytes and SHA-256, or raise InputError/PolicyError naming it."""
    name = os.fspath(path)
    before = _stat(name)
    if stat.S_ISDIR(before.st_mode):
        raise InputError("is a directory, not an image file", subject=name)
    if not stat.S_ISREG(before.st_mode):
        raise InputError("not a regular file", subject=name)
    if before.st_size == 0:
        raise InputError("empty file", subject=name)
    if before.st_size > max_bytes:
        raise PolicyError(
            f"file is {before.st_size} bytes, over the limit of {max_bytes} bytes",
            subject=name,
        )
    try:
        fd = os.open(name, _OPEN_FLAGS)
    except OSError as exc:
        raise InputError(_why(exc), subject=name) from None
    try:
        opened = os.fstat(fd)
        if not _same(before, opened):
            raise InputError("file changed while being read", subject=name)
        data = _read_all(fd, opened.st_size)
        after = os.fstat(fd)
    except OSError as exc:
        raise InputError(_why(exc), subject=name) from None
    finally:
        os.close(fd)
    if not _same(opened, after) or len(data) != after.st_size or not _same(after, _stat(name)):
        raise InputError("file changed while being read", subject=name)
    return FileBytes(data=data, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _read_all(fd: int, size: int) -> bytes:
    # One byte more than expected, so that a file that grew is noticed here too.
    chunks = []
    wanted = size + 1
    while wanted > 0:
        chunk = os.read(fd, wanted)
        if not chunk:
            break
        chunks.append(chunk)
        wanted -= len(chunk)
    return b"".join(chunks)


def _stat(name: str) -> os.stat_result:
    try:
        return os.stat(name)
    except OSError as exc:
        raise InputError(_why(exc), subject=name) from None


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns) == (
        b.st_dev,
        b.st_ino,
        b.st_size,
        b.st_mtime_ns,
    )


def _why(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EISDIR:
        return "is a directory, not an image file"
    return f"unreadable ({exc.strerror or type(exc).__name__})"
