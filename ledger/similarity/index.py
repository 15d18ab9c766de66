"""Multi-index hashing: exact Hamming range search over 64-bit keys, sub-linear in practice.

Norouzi, Punjani and Fleet, "Fast Search in Hamming Space with Multi-Index
Hashing" (CVPR 2012). Each key is cut into ``m`` disjoint chunks of about
64/m bits. If two keys are within Hamming distance ``r``, then by the
pigeonhole principle, writing ``r = m*q + a`` (0 <= a < m), at least one of the
first ``a + 1`` chunks differs in at most ``q`` bits, or one of the others in at
most ``q - 1`` bits. So a query probes, in chunk table ``i``, every bucket
within that radius of its own chunk, and checks the full distance of what it
finds. Nothing within ``r`` is missed: the index returns exactly what brute
force returns (a test compares them).

Layout (numpy, no Python loop per key): ``codes`` (uint64) and ``owner``
(uint32, the position of the key's image in ``ids``); per chunk table the key
positions sorted by chunk value (uint32) and the bucket offsets (uint32,
2^bits + 1 entries; CSR). Added keys go to an unsorted tail that is scanned by
brute force and merged into the tables once it holds more than an eighth of
the keys (so adding is amortised O(log n) per key), or, at the next search, more
than 16,384 keys (so a search never scans a long tail).

Serialised form (:meth:`HammingIndex.to_bytes`): ``MAGIC``, a 4-byte
big-endian header length, a canonical JSON header naming the algorithm, its
version, the key kind (e.g. ``dup-grid/1``) and the parameters, then the raw
little-endian arrays. :meth:`HammingIndex.from_bytes` refuses any other
algorithm, version, key kind or a truncated body, so indexes of incompatible
keys can never be mixed. The tables are rebuilt on load (they are derived).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt

from ledger.errors import InputError

ALG = "mih"
VERSION = 1
MAGIC = b"MEDLEDGER-HAMMING-INDEX\n"
DEFAULT_CHUNKS = 3
DEFAULT_RADIUS = 8
SEARCH_TAIL = 16384  # a search merges a tail longer than this rather than scanning it

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]
Ints = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Hits:
    """Search results, one row per (query key, indexed key) pair within the radius."""

    query: Ints  # position of the query key in the keys searched
    image: I64  # the image id given to :meth:`HammingIndex.add`
    key: Ints  # which of that image's keys (0-based, in the order added)
    distance: Ints

    def __len__(self) -> int:
        return len(self.image)


class HammingIndex:
    """Range search over 64-bit keys; each image id owns a fixed number of keys."""

    def __init__(self, *, key_kind: str, keys_per_image: int, chunks: int = DEFAULT_CHUNKS):
        if not 3 <= chunks <= 8:  # chunk tables of at most 22 bits (CSR offsets 16 MiB)
            raise InputError(f"chunks must be 3..8, got {chunks}")
        if keys_per_image < 1:
            raise InputError(f"keys_per_image must be >= 1, got {keys_per_image}")
        self.key_kind = key_kind
        self.keys_per_image = keys_per_image
        self.chunks = chunks
        bits = [64 // chunks + (1 if i < 64 % chunks else 0) for i in range(chunks)]
        self._bits = tuple(bits)
        self._shifts = tuple(64 - sum(bits[: i + 1]) for i in range(chunks))
        self._ids: list[I64] = []
        self._codes: U64 = np.zeros(0, np.uint64)
        self._tail: list[U64] = []
        self._tail_count = 0
        self._sorted = 0  # keys [0, _sorted) are in the tables
        self._perm: list[U32] = []
        self._offsets: list[U32] = []
        self._masks: dict[tuple[int, int], U64] = {}

    # --- building ------------------------------------------------------------------

    def __len__(self) -> int:
        """Number of images."""
        return (len(self._codes) + self._tail_count) // self.keys_per_image

    def add(self, ids: npt.ArrayLike, keys: npt.ArrayLike) -> None:
        """Add images: ``ids`` (n,) int64 and their ``keys`` (n, keys_per_image) uint64."""
        id_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        key_arr = np.asarray(keys, dtype=np.uint64)
        if key_arr.shape != (len(id_arr), self.keys_per_image):
            raise InputError(
                f"keys must have shape ({len(id_arr)}, {self.keys_per_image}), got {key_arr.shape}"
            )
        if not len(id_arr):
            return
        self._ids.append(id_arr)
        self._tail.append(key_arr.reshape(-1))
        self._tail_count += key_arr.size
        if self._tail_count > max(4096, len(self._codes) // 8):
            self._merge()

    def _all_ids(self) -> I64:
        if len(self._ids) != 1:
            self._ids = [np.concatenate(self._ids)] if self._ids else [np.zeros(0, np.int64)]
        return self._ids[0]

    def _merge(self) -> None:
        if self._tail:
            self._codes = np.concatenate([self._codes, *self._tail])
            self._tail, self._tail_count = [], 0
        self._perm, self._offsets = [], []
        for bits, shift in zip(self._bits, self._shifts, strict=True):
            chunk = self._chunk(self._codes, bits, shift)
            order = np.argsort(chunk, kind="stable").astype(np.uint32)
            counts = np.bincount(chunk, minlength=1 << bits)
            offsets = np.zeros((1 << bits) + 1, dtype=np.uint32)
            np.cumsum(counts, out=offsets[1:])
            self._perm.append(order)
            self._offsets.append(offsets)
        self._sorted = len(self._codes)

    @staticmethod
    def _chunk(codes: U64, bits: int, shift: int) -> Ints:
        mask = np.uint64((1 << bits) - 1)
        return np.asarray((codes >> np.uint64(shift)) & mask, dtype=np.intp)

    # --- searching -----------------------------------------------------------------

    def search(self, keys: npt.ArrayLike, *, radius: int = DEFAULT_RADIUS) -> Hits:
        """Every indexed key within ``radius`` of some of ``keys`` (exactly brute force's)."""
        if not 0 <= radius <= 32:
            raise InputError(f"radius must be 0..32, got {radius}")
        query = np.asarray(keys, dtype=np.uint64).reshape(-1)
        if self._tail:
            self._merge_tail_if_large()
        found_q: list[Ints] = []
        found_k: list[Ints] = []
        found_d: list[Ints] = []
        if self._sorted and len(query):
            q_idx, k_idx = self._probe(query, radius)
            found_q.append(q_idx)
            found_k.append(k_idx)
            found_d.append(np.bitwise_count(query[q_idx] ^ self._codes[k_idx]).astype(np.intp))
        tail = self._tail_codes()
        if len(tail) and len(query):
            d = np.bitwise_count(query[:, np.newaxis] ^ tail[np.newaxis, :])
            qi, ti = np.nonzero(d <= radius)
            found_q.append(qi.astype(np.intp))
            found_k.append((ti + self._sorted).astype(np.intp))
            found_d.append(d[qi, ti].astype(np.intp))
        if not found_q:
            empty = np.zeros(0, np.intp)
            return Hits(empty, np.zeros(0, np.int64), empty, empty)
        k_all = np.concatenate(found_k)
        ids = self._all_ids()
        return Hits(
            query=np.concatenate(found_q),
            image=ids[k_all // self.keys_per_image],
            key=k_all % self.keys_per_image,
            distance=np.concatenate(found_d),
        )

    def _merge_tail_if_large(self) -> None:
        if self._tail_count > SEARCH_TAIL:
            self._merge()

    def compact(self) -> None:
        """Merge every added key into the chunk tables (searching then scans no tail)."""
        if self._tail or len(self._perm) != self.chunks:
            self._merge()

    def _tail_codes(self) -> U64:
        if not self._tail:
            return np.zeros(0, np.uint64)
        if len(self._tail) > 1:
            self._tail = [np.concatenate(self._tail)]
        return self._tail[0]

    def _radii(self, radius: int) -> list[int]:
        q, a = divmod(radius, self.chunks)
        return [q if i <= a else q - 1 for i in range(self.chunks)]

    def _flip_masks(self, bits: int, radius: int) -> U64:
        """Every chunk value with at most ``radius`` bits set (XOR masks to probe)."""
        cached = self._masks.get((bits, radius))
        if cached is None:
            masks = [0]
            for r in range(1, radius + 1):
                masks.extend(sum(1 << b for b in combo) for combo in combinations(range(bits), r))
            cached = np.asarray(masks, dtype=np.uint64)
            self._masks[(bits, radius)] = cached
        return cached

    def _probe(self, query: U64, radius: int) -> tuple[Ints, Ints]:
        """(query position, key position) of every key within ``radius`` in the tables."""
        q_parts: list[Ints] = []
        k_parts: list[Ints] = []
        for table, (bits, shift, r) in enumerate(
            zip(self._bits, self._shifts, self._radii(radius), strict=True)
        ):
            if r < 0:
                continue
            masks = self._flip_masks(bits, r)
            chunk = self._chunk(query, bits, shift).astype(np.uint64)
            buckets = np.asarray(chunk[:, np.newaxis] ^ masks[np.newaxis, :], dtype=np.intp)
            buckets = buckets.reshape(-1)  # query-major: all of query 0's buckets first
            offsets = self._offsets[table]
            start = offsets[buckets].astype(np.intp)
            counts = offsets[buckets + 1].astype(np.intp) - start
            total = int(counts.sum())
            if not total:
                continue
            # The n-th key found lies at start[b] + (n - first[b]) of its bucket b: one
            # repeat of the per-bucket difference plus a running count, no per-key gather.
            first = np.cumsum(counts) - counts
            where = np.repeat(start - first, counts)
            where += np.arange(total, dtype=np.intp)
            per_query = counts.reshape(len(query), len(masks)).sum(axis=1)
            q_parts.append(np.repeat(np.arange(len(query), dtype=np.intp), per_query))
            k_parts.append(self._perm[table][where].astype(np.intp))
        if not q_parts:
            empty = np.zeros(0, np.intp)
            return empty, empty
        q_idx = np.concatenate(q_parts)
        k_idx = np.concatenate(k_parts)
        close = np.bitwise_count(query[q_idx] ^ self._codes[k_idx]) <= radius
        q_idx, k_idx = q_idx[close], k_idx[close]
        if len(q_idx):  # a pair can be found through several chunks: keep one
            pair = np.unique(q_idx.astype(np.int64) * (self._sorted + 1) + k_idx)
            q_idx = (pair // (self._sorted + 1)).astype(np.intp)
            k_idx = (pair % (self._sorted + 1)).astype(np.intp)
        return q_idx, k_idx

    # --- size and serialisation ------------------------------------------------------

    def nbytes(self) -> int:
        """Bytes of memory held by the index's arrays."""
        arrays: list[npt.NDArray[np.generic]] = [self._codes, self._all_ids(), *self._tail]
        arrays += [*self._perm, *self._offsets]
        return int(sum(a.nbytes for a in arrays))

    def header(self) -> dict[str, object]:
        return {
            "alg": ALG,
            "v": VERSION,
            "key_kind": self.key_kind,
            "keys_per_image": self.keys_per_image,
            "chunks": self.chunks,
            "images": len(self),
        }

    def to_bytes(self) -> bytes:
        self._merge()
        head = json.dumps(self.header(), sort_keys=True, separators=(",", ":")).encode()
        body = self._codes.astype("<u8").tobytes() + self._all_ids().astype("<i8").tobytes()
        return MAGIC + struct.pack(">I", len(head)) + head + body

    @classmethod
    def from_bytes(cls, data: bytes, *, key_kind: str) -> HammingIndex:
        """Load an index; InputError if it is not a ``key_kind`` index of this version."""
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
            raise InputError("not a medledger Hamming index")
        (length,) = struct.unpack_from(">I", data, len(MAGIC))
        start = len(MAGIC) + 4
        try:
            head = json.loads(data[start : start + length])
        except ValueError:
            raise InputError("malformed Hamming index header") from None
        if not isinstance(head, dict):
            raise InputError("malformed Hamming index header")
        if head.get("alg") != ALG or head.get("v") != VERSION:
            raise InputError(
                f"index {head.get('alg')!r} v{head.get('v')!r} is not {ALG} v{VERSION}"
            )
        if head.get("key_kind") != key_kind:
            raise InputError(f"index holds {head.get('key_kind')!r} keys, not {key_kind!r}")
        try:
            per, chunks, images = (
                int(head["keys_per_image"]),
                int(head["chunks"]),
                int(head["images"]),
            )
        except (KeyError, TypeError, ValueError):
            raise InputError("malformed Hamming index header") from None
        body = memoryview(data)[start + length :]
        want = images * per * 8 + images * 8
        if images < 0 or len(body) != want:
            raise InputError(f"Hamming index body is {len(body)} bytes, want {want}")
        index = cls(key_kind=key_kind, keys_per_image=per, chunks=chunks)
        codes = np.frombuffer(body[: images * per * 8], dtype="<u8").astype(np.uint64)
        ids = np.frombuffer(body[images * per * 8 :], dtype="<i8").astype(np.int64)
        index._ids = [ids]
        index._codes = codes
        index._merge()
        return index
