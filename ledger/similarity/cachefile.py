"""The files that cache derived similarity data beside a ledger (catalog.py, sketches.py).

A cache file is its magic line, the header's length (uint32, little-endian), the header
(JSON, sorted keys) and a body that only the cache's owner reads. The header holds the
log size the cache covers and the leaf hash of that size's last entry: a cache whose
leaf hash is not the log's is another log's (or a rolled-back one's) and is rebuilt.
Files are written whole or not at all (a temporary file renamed into place), so
concurrent writers each leave a valid cache.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ledger.errors import InputError
from ledger.store import Store, reading

T = TypeVar("T")
DAMAGE: tuple[type[Exception], ...] = (OSError, InputError, ValueError)


def pack(magic: bytes, header: dict[str, Any], body: bytes) -> bytes:
    """The bytes of a cache file: ``magic``, the header's length, the header, ``body``."""
    text = json.dumps(header, sort_keys=True).encode()
    return magic + struct.pack("<I", len(text)) + text + body


def unpack(data: bytes, magic: bytes, *, what: str) -> tuple[dict[str, Any], bytes]:
    """(header, body) of a cache file; ``what`` names the cache in the error."""
    if not data.startswith(magic):
        raise InputError(f"not a medledger {what} cache")
    at = len(magic)
    (length,) = struct.unpack_from("<I", data, at)
    header: dict[str, Any] = json.loads(data[at + 4 : at + 4 + length])
    return header, data[at + 4 + length :]


def leaf_hash(store: Store, index: int) -> str | None:
    """The hex leaf hash of log entry ``index``; None past the end of the log."""
    with reading(store.engine) as conn:
        if index >= store.count_leaves(conn):
            return None
        return store.leaf(conn, index)[1].hex()


def covered_leaf(store: Store, size: int) -> str | None:
    """The leaf hash a cache covering ``size`` entries records ("" when it covers none)."""
    return leaf_hash(store, size - 1) if size else ""


def load(
    path: Path | None,
    store: Store,
    parse: Callable[[bytes], tuple[int, str | None, T]],
    *,
    damage: tuple[type[Exception], ...] = DAMAGE,
) -> tuple[int, T] | None:
    """(size covered, what ``parse`` made of it) of the cache at ``path``, or None to rebuild.

    ``parse`` returns the size covered, the leaf hash recorded and the content. None when
    there is no cache, when it is damaged (``parse`` raised one of ``damage``) and when it
    is another log's (or a rolled-back one's): a bad cache is only a slower start.
    """
    if path is None or not path.is_file():
        return None
    try:
        size, recorded, content = parse(path.read_bytes())
        if size and leaf_hash(store, size - 1) != recorded:
            return None
    except damage:
        return None
    return size, content


def write(path: Path, data: bytes, *, prefix: str) -> None:
    """Replace ``path`` with ``data`` atomically (temporary file ``prefix*.tmp`` beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
