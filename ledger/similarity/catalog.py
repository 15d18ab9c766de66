"""The near-duplicate index of a ledger's registered images, cached beside the ledger.

The index is derived data: the keys of every image are in the store (from the signed
entries), so the cache file can always be thrown away and rebuilt. It records the log
size it covers and that entry's leaf hash; a cache whose leaf no longer matches (another
database, a restored copy) is rebuilt, and one that is merely behind is brought up to date
by adding the images appended since (``sync``).
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from ledger.errors import InputError
from ledger.similarity.descriptor import Descriptor
from ledger.similarity.search import (
    DEFAULT_MAX_CANDIDATES,
    DEFAULT_RADIUS,
    Match,
    NearDuplicateIndex,
)
from ledger.similarity.verification import DEFAULT_THRESHOLDS, Thresholds
from ledger.store import Store, reading
from ledger.store.duplicates import descriptor_parts, keys_between

CACHE_MAGIC = b"MEDLEDGER-DUP-CACHE\n"
CACHE_VERSION = 1
CACHE_NAME = "dup-grid-1.idx"


def descriptor_of(keys: bytes, grid: bytes) -> Descriptor:
    values = np.frombuffer(keys, dtype="<u8")
    return Descriptor(grid=grid, keys=tuple(int(k) for k in values))


class StoredDescriptors:
    """``DescriptorSource`` over the store: the grid and keys of a registered image."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[int, Descriptor | None] = {}

    def get(self, image_id: int) -> Descriptor | None:
        if image_id not in self._cache:
            self.prefetch([image_id])
        return self._cache.get(image_id)

    def prefetch(self, image_ids: list[int]) -> None:
        wanted = [i for i in image_ids if i not in self._cache]
        if not wanted:
            return
        with reading(self.store.engine) as conn:
            parts = descriptor_parts(conn, wanted)
        for i in wanted:
            keys, grid = parts.get(i, (b"", None))
            self._cache[i] = None if grid is None else descriptor_of(keys, grid)
        if len(self._cache) > 100_000:  # a long scan must not keep every grid
            self._cache.clear()


class LedgerIndex:
    """Search over every registered image; ``sync`` adds what was appended since."""

    def __init__(
        self,
        store: Store,
        cache_dir: Path | None,
        *,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        radius: int = DEFAULT_RADIUS,
        max_candidates: int = DEFAULT_MAX_CANDIDATES,
    ) -> None:
        self.store = store
        self.descriptors = StoredDescriptors(store)
        self.cache = None if cache_dir is None else cache_dir / CACHE_NAME
        self.radius, self.thresholds, self.max_candidates = radius, thresholds, max_candidates
        self.size = 0  # log entries covered
        self.engine = self._engine(None)
        self._saved_size = 0
        self._load()

    def _load(self) -> None:
        if self.cache is None or not self.cache.is_file():
            return
        try:
            data = self.cache.read_bytes()
            size, leaf_hash, body = _parse_cache(data)
            if size and self._leaf_hash(size - 1) != leaf_hash:
                return  # another log, or a log that was rolled back: rebuild
            engine = self._engine(body)
        except (OSError, InputError, ValueError):
            return  # a damaged cache is only a slower start
        self.engine, self.size, self._saved_size = engine, size, size

    def _engine(self, data: bytes | None) -> NearDuplicateIndex:
        if data is None:
            return NearDuplicateIndex(
                descriptors=self.descriptors,
                radius=self.radius,
                thresholds=self.thresholds,
                max_candidates=self.max_candidates,
            )
        return NearDuplicateIndex.from_bytes(
            data,
            descriptors=self.descriptors,
            radius=self.radius,
            thresholds=self.thresholds,
            max_candidates=self.max_candidates,
        )

    def _leaf_hash(self, index: int) -> str | None:
        with reading(self.store.engine) as conn:
            if index >= self.store.count_leaves(conn):
                return None
            return self.store.leaf(conn, index)[1].hex()

    def sync(self) -> int:
        """Add the images appended since the last sync; returns how many."""
        with reading(self.store.engine) as conn:
            size = self.store.count_leaves(conn)
            if size <= self.size:
                return 0
            ids, keys = keys_between(conn, self.size, size)
        if len(ids):
            self.engine.add_keys(ids, keys)
        self.size = size
        return len(ids)

    def search(
        self,
        query: Descriptor,
        *,
        top: int | None = None,
        exclude: list[int] | None = None,
        enough: int | None = None,
    ) -> list[Match]:
        return self.engine.search(query, top=top, exclude=exclude or (), enough=enough)

    def save(self) -> None:
        """Write the cache atomically when it grew; concurrent writers each leave a valid one."""
        if self.cache is None or self.size == self._saved_size:
            return
        leaf_hash = self._leaf_hash(self.size - 1) if self.size else ""
        header = json.dumps(
            {"v": CACHE_VERSION, "size": self.size, "leaf_hash": leaf_hash}, sort_keys=True
        ).encode()
        body = self.engine.to_bytes()
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.cache.parent, prefix=".dup-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(CACHE_MAGIC + struct.pack("<I", len(header)) + header + body)
            os.replace(tmp, self.cache)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._saved_size = self.size


def _parse_cache(data: bytes) -> tuple[int, str | None, bytes]:
    if not data.startswith(CACHE_MAGIC):
        raise InputError("not a medledger duplicate-index cache")
    at = len(CACHE_MAGIC)
    (length,) = struct.unpack_from("<I", data, at)
    header = json.loads(data[at + 4 : at + 4 + length])
    if header.get("v") != CACHE_VERSION:
        raise InputError("duplicate-index cache of another version")
    return int(header["size"]), header.get("leaf_hash") or None, data[at + 4 + length :]
