"""Small, careful file I/O for key files: create-new-only writes and bounded reads."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from ledger.errors import InputError

MAX_KEY_FILE_BYTES = 64 * 1024
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def create_new_file(path: Path, data: bytes, *, mode: int) -> None:
    """Write ``data`` to a new file at ``path`` with exactly ``mode``.

    The content goes to a private temporary file first and is then hard-linked
    into place: ``link`` fails if ``path`` exists (so nothing is ever
    overwritten) and readers never see a half-written key.
    """
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, mode)
    except FileNotFoundError:
        raise InputError(f"{path}: directory does not exist") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot create: {exc.strerror}") from None
    try:
        # The umask may have narrowed the mode; set it exactly.
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise InputError(f"{path}: already exists; refusing to overwrite it") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot create: {exc.strerror}") from None
        _fsync_directory(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _fsync_directory(directory: Path) -> None:
    # Makes the new directory entry durable; not every filesystem allows it.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | _CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_key_file(path: Path, *, private: bool) -> bytes:
    """Read a small regular file; for a private key, refuse group/other access."""
    try:
        # O_NONBLOCK: a FIFO planted at the path must not hang the reader.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _CLOEXEC)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        # fstat on the open file, so the mode checked is the mode of what is read.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path}: not a regular file")
        perms = stat.S_IMODE(info.st_mode)
        if private and perms & 0o077:
            raise InputError(
                f"{path}: private key file is accessible by group or others "
                f"(mode {perms:04o}); run chmod 600 on it"
            )
        data = _read_at_most(fd, MAX_KEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise InputError(f"{path}: too large for a key file")
    return data


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
