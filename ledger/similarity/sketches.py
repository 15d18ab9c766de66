"""Dataset sketches: one MinHash per registering source and per dataset version.

A sketch's tokens are the duplicate groups of its images (``dup_scans.group_idx``, as
decimal strings): an image and every copy found of it share one token, so two sets
that hold copies of the same pictures share tokens however the copies were re-encoded.
The sketches go into a ``MinHashLSHEnsemble`` (datasketch) for containment queries —
"which registered sources and datasets hold at least ``threshold`` of this set?" —
without comparing the set with every registered one. The answer is only a candidate
list; callers confirm it image by image with the store (ledger.similarity.composition).

Like the near-duplicate index (catalog.py) the sketches are derived data, cached in
``DIR/similarity/``: the cache header records the log size covered and that entry's leaf
hash, and the sketch parameters. A cache of another log or other parameters is rebuilt;
one that is merely behind is updated with the images appended since (MinHash is
updatable). Only images already checked for duplicates (with a ``dup_scans`` row) are
added; the covered size stops before the first unchecked image, so run
``sets.prepare`` first.

A sketch's ``images`` counts the images added to it. It is the set size given to the
ensemble: an upper bound of the distinct tokens (copies inside one set share a token),
which can only lower the Jaccard threshold the ensemble derives, so it errs towards
more candidates, never fewer.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from datasketch import MinHash, MinHashLSHEnsemble
from sqlalchemy import select

from ledger.errors import InputError
from ledger.similarity import cachefile
from ledger.store import Store, reading
from ledger.store.duplicates import unscanned
from ledger.store.tables import DupScanRow, ImageRow

_IMAGES = ImageRow.__table__  # type: ignore[attr-defined]
_SCANS = DupScanRow.__table__  # type: ignore[attr-defined]

NUM_PERM = 128
SEED = 1
SCHEME = "affine32"  # datasketch >= 2.0: uint32 hash values, SHA-1 of the token
DEFAULT_THRESHOLD = 0.05  # containment of the query in a sketch to become a candidate
NUM_PART = 8  # ensemble partitions by set size
CACHE_MAGIC = b"MEDLEDGER-SKETCH-CACHE\n"
CACHE_VERSION = 1
CACHE_NAME = "dataset-sketches-1.bin"
SYNC_STEP = 50_000  # log indexes read per query while updating
PARAMETERS = {
    "alg": "minhash",
    "scheme": SCHEME,
    "hash": "sha1_hash32",
    "num_perm": NUM_PERM,
    "seed": SEED,
    "token": "dup-group",
}

Kind = Literal["source", "dataset"]


@dataclass(frozen=True, order=True)
class SketchKey:
    kind: Kind
    name: str


@dataclass
class Sketch:
    key: SketchKey
    images: int
    minhash: MinHash


@functools.cache
def _permutations() -> Any:
    """The permutations every sketch shares (made once: they cost more than hashing)."""
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME).permutations


def new_minhash(hashvalues: Any = None) -> MinHash:
    """An empty MinHash with the sketch parameters (or one holding ``hashvalues``)."""
    return MinHash(
        num_perm=NUM_PERM,
        seed=SEED,
        hashvalues=hashvalues,
        permutations=_permutations(),
        scheme=SCHEME,
    )


def token(group: int | str) -> bytes:
    return str(group).encode()


def minhash_of(tokens: Iterable[int | str]) -> MinHash:
    m = new_minhash()
    batch = [token(t) for t in tokens]
    if batch:
        m.update_batch(batch)
    return m


class DatasetSketches:
    """Sketches of every source and dataset of a store; ``sync`` adds what was appended."""

    def __init__(self, store: Store, cache_dir: Path | None) -> None:
        self.store = store
        self.cache = None if cache_dir is None else cache_dir / CACHE_NAME
        self.size = 0  # log entries covered
        self.sketches: dict[SketchKey, Sketch] = {}
        self._saved_size = 0
        self._load()

    # --- cache ---------------------------------------------------------------------
    def _load(self) -> None:
        damage = (*cachefile.DAMAGE, KeyError, TypeError)
        found = cachefile.load(self.cache, self.store, _parse_cache, damage=damage)
        if found is not None:
            self.size = self._saved_size = found[0]
            self.sketches = found[1]

    def save(self) -> None:
        """Write the cache atomically when it grew; concurrent writers each leave a valid one."""
        if self.cache is None or self.size == self._saved_size:
            return
        leaf_hash = cachefile.covered_leaf(self.store, self.size) or ""
        data = _cache_bytes(self.size, leaf_hash, list(self.sketches.values()))
        cachefile.write(self.cache, data, prefix=".sketch-")
        self._saved_size = self.size

    # --- updating ------------------------------------------------------------------
    def sync(self) -> int:
        """Add the checked images appended since the last sync; returns how many."""
        with reading(self.store.engine) as conn:
            size = self.store.count_leaves(conn)
            first = unscanned(conn, limit=1)
        end = min(size, first[0]) if first else size
        added = 0
        for start in range(self.size, end, SYNC_STEP):
            stop = min(end, start + SYNC_STEP)
            with reading(self.store.engine) as conn:
                rows = conn.execute(
                    select(_IMAGES.c.source, _IMAGES.c.dataset, _SCANS.c.group_idx)
                    .select_from(_IMAGES.join(_SCANS, _IMAGES.c.idx == _SCANS.c.idx))
                    .where(_IMAGES.c.idx >= start, _IMAGES.c.idx < stop)
                ).all()
            self._add(rows)
            added += len(rows)
        self.size = max(self.size, end)
        return added

    def _add(self, rows: Sequence[Any]) -> None:
        tokens: dict[SketchKey, list[bytes]] = defaultdict(list)
        for source, dataset, group in rows:
            t = token(int(group))
            tokens[SketchKey("source", str(source))].append(t)
            if dataset is not None:
                tokens[SketchKey("dataset", str(dataset))].append(t)
        for key, batch in tokens.items():
            sketch = self.sketches.get(key)
            if sketch is None:
                sketch = self.sketches[key] = Sketch(key, 0, new_minhash())
            sketch.minhash.update_batch(batch)
            sketch.images += len(batch)

    # --- querying ------------------------------------------------------------------
    def ensemble(
        self, *, threshold: float = DEFAULT_THRESHOLD, exclude: Iterable[SketchKey] = ()
    ) -> MinHashLSHEnsemble | None:
        """An ensemble over the sketches (None when there are none)."""
        if not 0 < threshold <= 1:
            raise InputError(f"containment threshold must be in (0, 1], got {threshold}")
        skip = set(exclude)
        entries = [
            (s.key, s.minhash, s.images)
            for s in sorted(self.sketches.values(), key=lambda s: s.key)
            if s.key not in skip and s.images > 0
        ]
        if not entries:
            return None
        built = MinHashLSHEnsemble(
            threshold=threshold, num_perm=NUM_PERM, num_part=min(NUM_PART, len(entries))
        )
        built.index(entries)
        return built

    def candidates(
        self,
        tokens: Sequence[int | str],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        exclude: Iterable[SketchKey] = (),
    ) -> list[SketchKey]:
        """Sources and datasets estimated to hold at least ``threshold`` of the tokens."""
        if not tokens:
            return []
        built = self.ensemble(threshold=threshold, exclude=exclude)
        if built is None:
            return []
        query = minhash_of(tokens)
        return sorted(set(built.query(query, len(set(tokens)))))


def open_sketches(store: Store, ledger_dir: Path | None) -> DatasetSketches:
    """The sketches of a ledger, cached beside its duplicate index in DIR/similarity."""
    return DatasetSketches(store, None if ledger_dir is None else ledger_dir / "similarity")


def _cache_bytes(size: int, leaf_hash: str, sketches: Sequence[Sketch]) -> bytes:
    ordered = sorted(sketches, key=lambda s: s.key)
    header = {
        "v": CACHE_VERSION,
        "size": size,
        "leaf_hash": leaf_hash,
        "params": PARAMETERS,
        "entries": [[s.key.kind, s.key.name, s.images] for s in ordered],
    }
    values = np.zeros((len(ordered), NUM_PERM), dtype="<u4")
    for row, s in enumerate(ordered):
        values[row] = s.minhash.hashvalues
    return cachefile.pack(CACHE_MAGIC, header, values.tobytes())


def _parse_cache(data: bytes) -> tuple[int, str | None, dict[SketchKey, Sketch]]:
    header, body = cachefile.unpack(data, CACHE_MAGIC, what="dataset-sketch")
    if header.get("v") != CACHE_VERSION or header.get("params") != PARAMETERS:
        raise InputError("dataset-sketch cache of another version or parameters")
    entries = header["entries"]
    if len(body) != len(entries) * NUM_PERM * 4:
        raise InputError("dataset-sketch cache is truncated")
    values = np.frombuffer(body, dtype="<u4").reshape(len(entries), NUM_PERM)
    out: dict[SketchKey, Sketch] = {}
    for row, (kind, name, images) in enumerate(entries):
        if kind not in ("source", "dataset"):
            raise InputError(f"dataset-sketch cache: unknown kind {kind!r}")
        key = SketchKey(kind, str(name))
        out[key] = Sketch(key, int(images), new_minhash(values[row].astype(np.uint32)))
    return int(header["size"]), header.get("leaf_hash") or None, out
