"""Tree hashes from what a range bundle holds: its leaves and the nodes outside them.

A bundle authenticates its leaves ``[start, end)`` and the outside nodes against
one signed root. Any older tree's root, or a consistency proof from an older
size, is a function of the same hashes whenever the ranges it needs are made of
them: always for a bundle from index 0, and for a range bundle when the old size
falls inside or after its leaves. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from hashlib import sha256

from ledger.errors import InputError
from ledger.log.hashing import NODE_PREFIX
from ledger.log.tree import root_of_leaf_hashes, split_point

__all__ = ["NotDerivableError", "consistency_from_range"]


class NotDerivableError(InputError):
    """The bundle does not hold the hashes a tree range needs."""


def _range_hash(
    lo: int,
    hi: int,
    *,
    start: int,
    leaf_hashes: Sequence[bytes],
    outside: Mapping[tuple[int, int], bytes],
) -> bytes:
    """RFC 9162 MTH of leaves [lo, hi), from the range's leaves and the outside nodes."""
    end = start + len(leaf_hashes)
    known = outside.get((lo, hi))
    if known is not None:
        return known
    if start <= lo and hi <= end:
        return root_of_leaf_hashes(leaf_hashes[lo - start : hi - start])
    if hi - lo == 1 or any(a <= lo and hi <= b for a, b in outside):
        raise NotDerivableError(f"leaves [{lo}, {hi}) lie inside a node the bundle holds whole")
    mid = lo + split_point(hi - lo)
    left = _range_hash(lo, mid, start=start, leaf_hashes=leaf_hashes, outside=outside)
    right = _range_hash(mid, hi, start=start, leaf_hashes=leaf_hashes, outside=outside)
    return sha256(NODE_PREFIX + left + right).digest()


def consistency_from_range(
    *,
    old_size: int,
    new_size: int,
    start: int,
    leaf_hashes: Sequence[bytes],
    outside: Mapping[tuple[int, int], bytes],
) -> tuple[bytes, list[bytes]]:
    """The old tree's root and the RFC 9162 consistency proof from ``old_size`` to
    ``new_size``, built from a bundle's hashes; raises :class:`NotDerivableError`."""
    if not 0 < old_size <= new_size:
        raise InputError(f"old tree size {old_size} must be between 1 and {new_size}")

    def mth(lo: int, hi: int) -> bytes:
        return _range_hash(lo, hi, start=start, leaf_hashes=leaf_hashes, outside=outside)

    def subproof(m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        # RFC 9162 §2.1.4.1 SUBPROOF(m, D[lo:hi], b), over ranges rather than lists,
        # so a ragged node the bundle holds whole serves as it is.
        if m == hi - lo:
            return [] if whole else [mth(lo, hi)]
        k = split_point(hi - lo)
        if m <= k:
            return [*subproof(m, lo, lo + k, whole), mth(lo + k, hi)]
        return [*subproof(m - k, lo + k, hi, False), mth(lo, lo + k)]

    return mth(0, old_size), subproof(old_size, 0, new_size, True)
