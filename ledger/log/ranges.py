"""Range proofs: audit leaves ``[start, end)`` of a tree of ``size`` without a database.

A bundle ships the leaves of the range and the hashes of the RFC 9162 tree
nodes that lie entirely outside it; the verifier rebuilds the root from both.
The outside nodes are RFC node ranges ``(lo, hi)``, perfect or the ragged right
edge of the tree; there are at most two per tree level, so O(log n).

The store side mirrors inclusion proofs: ``range_proof_nodes`` names the perfect
nodes to fetch in one query, ``range_proof`` turns them into the outside hashes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from hashlib import sha256

from ledger.errors import InputError, VerificationError
from ledger.log.encoding import MAX_UINT64
from ledger.log.hashing import HASH_SIZE, NODE_PREFIX
from ledger.log.tree import (
    Node,
    root_of_leaf_hashes,
    split_point,
    subtree_hash,
    subtree_nodes,
)

__all__ = [
    "range_outside_nodes",
    "range_proof",
    "range_proof_nodes",
    "root_from_range",
    "verify_range",
]

Range = tuple[int, int]


def _check_bounds(start: int, end: int, size: int) -> None:
    if not 0 <= start < end <= size <= MAX_UINT64:
        raise InputError(
            f"leaf range [{start}, {end}) is not a non-empty part of a tree of size {size}"
        )


def range_outside_nodes(*, start: int, end: int, size: int) -> list[Range]:
    """RFC tree node ranges ``(lo, hi)`` outside ``[start, end)`` that rebuild the root.

    Left to right. Every node the leaves of the range do not determine, and that
    is not inside another such node, appears exactly once.
    """
    _check_bounds(start, end, size)
    out: list[Range] = []
    stack = [(0, size)]
    while stack:
        lo, hi = stack.pop()
        if hi <= start or lo >= end:
            out.append((lo, hi))
        elif not (start <= lo and hi <= end):
            mid = lo + split_point(hi - lo)
            stack.append((mid, hi))  # popped after the left half: keeps the order
            stack.append((lo, mid))
    return out


def range_proof_nodes(*, start: int, end: int, size: int) -> set[Node]:
    """The perfect nodes the store must fetch to build the range proof."""
    needed: set[Node] = set()
    for lo, hi in range_outside_nodes(start=start, end=end, size=size):
        needed.update(subtree_nodes(start=lo, end=hi))
    return needed


def range_proof(
    *, start: int, end: int, size: int, nodes: Mapping[Node, bytes]
) -> dict[Range, bytes]:
    """The outside node hashes for a bundle, from the hashes of ``range_proof_nodes``."""
    return {
        (lo, hi): subtree_hash(start=lo, end=hi, nodes=nodes)
        for lo, hi in range_outside_nodes(start=start, end=end, size=size)
    }


def root_from_range(
    *,
    start: int,
    end: int,
    size: int,
    leaf_hashes: Sequence[bytes],
    outside: Mapping[Range, bytes],
) -> bytes:
    """The root of the tree of ``size`` from the range's leaf hashes and the outside nodes.

    Raises :class:`InputError` when a leaf hash or node is missing, malformed or
    superfluous: a bundle must carry exactly what is needed, nothing more.
    """
    needed = range_outside_nodes(start=start, end=end, size=size)
    if len(leaf_hashes) != end - start:
        raise InputError(
            f"leaf range [{start}, {end}) needs {end - start} leaf hashes, got {len(leaf_hashes)}"
        )
    for i, value in enumerate(leaf_hashes):
        if len(value) != HASH_SIZE:
            raise InputError(f"leaf hash [{start + i}] has {len(value)} bytes, want {HASH_SIZE}")
    missing = [r for r in needed if r not in outside]
    if missing:
        raise InputError(f"range proof is missing node(s) {missing} for leaves [{start}, {end})")
    extra = sorted(set(outside) - set(needed))
    if extra:
        raise InputError(f"range proof has unexpected node(s) {extra} for leaves [{start}, {end})")
    for key in needed:
        if len(outside[key]) != HASH_SIZE:
            raise InputError(f"node {key} has {len(outside[key])} bytes, want {HASH_SIZE}")

    def mth(lo: int, hi: int) -> bytes:
        known = outside.get((lo, hi))
        if known is not None:
            return known
        if start <= lo and hi <= end:
            return root_of_leaf_hashes(leaf_hashes[lo - start : hi - start])
        mid = lo + split_point(hi - lo)
        return sha256(NODE_PREFIX + mth(lo, mid) + mth(mid, hi)).digest()

    return mth(0, size)


def verify_range(
    *,
    start: int,
    end: int,
    size: int,
    leaf_hashes: Sequence[bytes],
    outside: Mapping[Range, bytes],
    root: bytes,
) -> None:
    """Raise :class:`VerificationError` unless the leaves and outside nodes rebuild ``root``."""
    if len(root) != HASH_SIZE:
        raise VerificationError(f"root hash has {len(root)} bytes, want {HASH_SIZE}")
    calculated = root_from_range(
        start=start, end=end, size=size, leaf_hashes=leaf_hashes, outside=outside
    )
    if calculated != root:
        raise VerificationError(
            f"root mismatch for leaves [{start}, {end}) of a tree of size {size}: "
            f"calculated {calculated.hex()}, expected {root.hex()}"
        )
