"""The near-duplicate index of a ledger's registered images, cached beside the ledger.

The index is derived data: the keys of every image are in the store (from the signed
entries), so the cache file can always be thrown away and rebuilt. It records the log
size it covers and that entry's leaf hash; a cache whose leaf no longer matches (another
database, a restored copy) is rebuilt, and one that is merely behind is brought up to date
by adding the images appended since (``sync``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ledger.errors import InputError
from ledger.fingerprint.descriptor import Descriptor
from ledger.handle import LedgerHandle
from ledger.similarity import cachefile
from ledger.similarity.search import (
    DEFAULT_MAX_CANDIDATES,
    DEFAULT_RADIUS,
    Match,
    NearDuplicateIndex,
    Verification,
)
from ledger.similarity.verification import DEFAULT_THRESHOLDS, Thresholds
from ledger.store import Store, reading
from ledger.store.duplicates import descriptor_parts, keys_between
from ledger.store.framekeys import frame_keys_between, frame_parts

CACHE_MAGIC = b"MEDLEDGER-DUP-CACHE\n"
CACHE_VERSION = 2  # 2: index ids carry the frame (issue 21); a version-1 cache is rebuilt
CACHE_NAME = "dup-grid-1.idx"


def descriptor_of(keys: bytes, grid: bytes) -> Descriptor:
    values = np.frombuffer(keys, dtype="<u8")
    return Descriptor(grid=grid, keys=tuple(int(k) for k in values))


def described_frames(
    facts: dict[str, Any], grids: Sequence[tuple[str, bytes]], middle: Descriptor | None
) -> tuple[tuple[int, Descriptor], ...]:
    """(frame, descriptor) of every described frame of an analysed multi-frame image (the
    middle one's included), as its ``frame_keys`` rows will be; empty for other images.
    ``grids``: (digest, grid) of the frames other than the middle one."""
    listed = facts.get("frame_grids")
    if listed is None or middle is None:
        return ()
    by_digest = dict(grids)
    out = [(int(facts["frame_tree"]["count"]) // 2, middle)]
    for g in listed:
        reference = g["descriptor"]
        grid = by_digest.get(reference["grid_sha256"])
        if grid is not None:
            keys = b"".join(int(k, 16).to_bytes(8, "little") for k in reference["keys"])
            out.append((int(g["frame"]), descriptor_of(keys, grid)))
    return tuple(sorted(out, key=lambda fd: fd[0]))


class StoredDescriptors:
    """``DescriptorSource`` over the store: the grid and keys of a registered image, or of
    one frame of it (``frame_keys``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[int, int | None], Descriptor | None] = {}

    def get(self, image_id: int, frame: int | None = None) -> Descriptor | None:
        if (image_id, frame) not in self._cache:
            self.prefetch([(image_id, frame)])
        return self._cache.get((image_id, frame))

    def prefetch(self, wanted: list[int] | list[tuple[int, int | None]]) -> None:
        """Read the descriptors of ``wanted``: image ids, or (image id, frame) pairs."""
        refs = [w if isinstance(w, tuple) else (w, None) for w in wanted]
        missing = [r for r in refs if r not in self._cache]
        if not missing:
            return
        with reading(self.store.engine) as conn:
            parts = descriptor_parts(conn, [i for i, f in missing if f is None])
            framed = frame_parts(conn, [(i, f) for i, f in missing if f is not None])
        for i, f in missing:
            if f is None:
                keys, grid = parts.get(i, (b"", None))
            else:
                keys, _, grid = framed.get((i, f), (b"", "", None))
            self._cache[(i, f)] = None if grid is None else descriptor_of(keys, grid)
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
        found = cachefile.load(self.cache, self.store, _parse_cache)
        if found is None:
            return
        size, body = found
        try:
            engine = self._engine(body)
        except cachefile.DAMAGE:
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

    def sync(self) -> int:
        """Add the images appended since the last sync; returns how many."""
        with reading(self.store.engine) as conn:
            size = self.store.count_leaves(conn)
            if size <= self.size:
                return 0
            ids, keys = keys_between(conn, self.size, size)
            frame_ids, frames, frame_keys = frame_keys_between(conn, self.size, size)
        if len(frame_ids):  # an image with per-frame rows is indexed by them, not twice
            alone = ~np.isin(ids, frame_ids)
            ids, keys = ids[alone], keys[alone]
            self.engine.add_keys(frame_ids, frame_keys, frames=frames)
        if len(ids):
            self.engine.add_keys(ids, keys)
        self.size = size
        return len(ids) + len(np.unique(frame_ids))

    def search(
        self,
        query: Descriptor,
        *,
        top: int | None = None,
        exclude: list[int] | None = None,
        enough: int | None = None,
    ) -> list[Match]:
        return self.engine.search(query, top=top, exclude=exclude or (), enough=enough)

    def verification(
        self, query: Descriptor, *, exclude: list[int] | None = None, enough: int | None = None
    ) -> Verification:
        """What ``search`` verifies, as a task for :func:`~ledger.similarity.search.verified`."""
        return self.engine.verification(query, exclude=exclude or (), enough=enough)

    def save(self) -> None:
        """Write the cache atomically when it grew; concurrent writers each leave a valid one."""
        if self.cache is None or self.size == self._saved_size:
            return
        leaf_hash = cachefile.covered_leaf(self.store, self.size)
        header = {"v": CACHE_VERSION, "size": self.size, "leaf_hash": leaf_hash}
        data = cachefile.pack(CACHE_MAGIC, header, self.engine.to_bytes())
        cachefile.write(self.cache, data, prefix=".dup-")
        self._saved_size = self.size


def _parse_cache(data: bytes) -> tuple[int, str | None, bytes]:
    header, body = cachefile.unpack(data, CACHE_MAGIC, what="duplicate-index")
    if header.get("v") != CACHE_VERSION:
        raise InputError("duplicate-index cache of another version")
    return int(header["size"]), header.get("leaf_hash") or None, body


class IndexedLedger(LedgerHandle, Protocol):
    """An opened ledger with its near-duplicate index (the service's Ledger is one)."""

    def duplicate_index(self, *, max_candidates: int = 64) -> LedgerIndex: ...
