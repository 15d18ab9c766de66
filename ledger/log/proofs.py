"""RFC 9162 §2.1.3-2.1.4 inclusion and consistency proofs, built and verified.

Building a proof is split in two so that the store fetches every node it needs
in one query: ``*_nodes`` names the perfect nodes ``(level, index)``, and the
matching ``*_proof`` assembles the RFC proof from a mapping of their hashes.
Both are O(log n).

Verification raises :class:`VerificationError` and returns nothing; it never
returns a bool a caller could forget to check. Preconditions are checked before
any hashing, each with its own message: an index beyond the tree size, a hash
that is not 32 bytes, a proof with too many hashes ("trailing garbage") or too
few ("truncated proof"). A root mismatch names the calculated and the expected
root in hex. Sizes and indexes are uint64; a negative or larger one is an
:class:`InputError` (no encoding we read can produce one).

Consistency semantics (decided, and the same in ``docs/proofs.md``):

* ``old_size > new_size`` is refused: a log never shrinks.
* ``old_size == 0``: the empty tree is a prefix of every tree, so the proof
  MUST be empty (any hash in it is refused as trailing garbage) and
  ``old_root`` MUST be the empty-tree root SHA-256(""), as C2SP tlog-witness
  requires. RFC 9162 leaves this case undefined and transparency-dev/merkle
  refuses it outright; we follow tlog-witness so that a witness can start
  from nothing.
* ``old_size == new_size``: the proof MUST be empty and the two roots equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from hashlib import sha256

from ledger.errors import InputError, VerificationError
from ledger.log.encoding import MAX_UINT64
from ledger.log.hashing import EMPTY_ROOT, HASH_SIZE, NODE_PREFIX
from ledger.log.ranges import (
    range_outside_nodes,
    range_proof,
    range_proof_nodes,
    root_from_range,
    verify_range,
)
from ledger.log.tree import Node, split_point, subtree_hash, subtree_nodes

__all__ = [
    "consistency_nodes",
    "consistency_proof",
    "consistency_proof_size",
    "inclusion_nodes",
    "inclusion_proof",
    "inclusion_proof_size",
    "range_outside_nodes",
    "range_proof",
    "range_proof_nodes",
    "root_from_inclusion",
    "root_from_range",
    "verify_consistency",
    "verify_inclusion",
    "verify_range",
]


def _check_uint(name: str, value: int) -> None:
    if not 0 <= value <= MAX_UINT64:
        raise InputError(f"{name} must be between 0 and 2**64-1, got {value}")


# --- building proofs -------------------------------------------------------------


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC PATH(index, D[size]) as leaf ranges, leaf sibling first."""
    _check_uint("leaf index", index)
    _check_uint("tree size", size)
    if index >= size:
        raise InputError(f"leaf index {index} is beyond tree size {size}")
    path = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + split_point(hi - lo)
        if index < mid:
            path.append((mid, hi))
            hi = mid
        else:
            path.append((lo, mid))
            lo = mid
    path.reverse()
    return path


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """RFC PROOF(old_size, D[new_size]) as leaf ranges, deepest first."""
    _check_uint("old tree size", old_size)
    _check_uint("new tree size", new_size)
    if old_size > new_size:
        raise InputError(f"old tree size {old_size} is beyond new tree size {new_size}")
    if old_size in (0, new_size):
        return []
    # SUBPROOF(m, D[lo:hi], b), unrolled from the root down; ``complete`` is b.
    path = []
    lo, hi = 0, new_size
    complete = True
    while old_size != hi:
        mid = lo + split_point(hi - lo)
        if old_size <= mid:
            path.append((mid, hi))
            hi = mid
        else:
            path.append((lo, mid))
            lo = mid
            complete = False
    if not complete:
        path.append((lo, hi))
    path.reverse()
    return path


def _nodes_of(ranges: Sequence[tuple[int, int]]) -> set[Node]:
    needed: set[Node] = set()
    for lo, hi in ranges:
        needed.update(subtree_nodes(start=lo, end=hi))
    return needed


def _hashes_of(ranges: Sequence[tuple[int, int]], nodes: Mapping[Node, bytes]) -> list[bytes]:
    return [subtree_hash(start=lo, end=hi, nodes=nodes) for lo, hi in ranges]


def inclusion_nodes(*, index: int, size: int) -> set[Node]:
    """The perfect nodes the inclusion proof of leaf ``index`` in a tree of ``size`` needs."""
    return _nodes_of(_inclusion_ranges(index, size))


def inclusion_proof(*, index: int, size: int, nodes: Mapping[Node, bytes]) -> list[bytes]:
    """RFC 9162 inclusion proof (audit path), from the hashes of ``inclusion_nodes``."""
    return _hashes_of(_inclusion_ranges(index, size), nodes)


def consistency_nodes(*, old_size: int, new_size: int) -> set[Node]:
    """The perfect nodes the consistency proof from ``old_size`` to ``new_size`` needs."""
    return _nodes_of(_consistency_ranges(old_size, new_size))


def consistency_proof(*, old_size: int, new_size: int, nodes: Mapping[Node, bytes]) -> list[bytes]:
    """RFC 9162 consistency proof, from the hashes of ``consistency_nodes``.

    Empty when ``old_size`` is 0 or equals ``new_size`` (see the module docstring).
    """
    return _hashes_of(_consistency_ranges(old_size, new_size), nodes)


# --- proof sizes -----------------------------------------------------------------


def inclusion_proof_size(*, index: int, size: int) -> int:
    """Number of hashes in the inclusion proof of leaf ``index`` in a tree of ``size``."""
    _check_uint("leaf index", index)
    _check_uint("tree size", size)
    if index >= size:
        raise InputError(f"leaf index {index} is beyond tree size {size}")
    # Below the level where the paths to ``index`` and ``size - 1`` meet, one sibling
    # per level ("inner"); above it, one left sibling per set bit ("border").
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_size(*, old_size: int, new_size: int) -> int:
    """Number of hashes in the consistency proof from ``old_size`` to ``new_size``."""
    _check_uint("old tree size", old_size)
    _check_uint("new tree size", new_size)
    if old_size > new_size:
        raise InputError(f"old tree size {old_size} is beyond new tree size {new_size}")
    if old_size in (0, new_size):
        return 0
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length()
    border = ((old_size - 1) >> inner).bit_count()
    shift = (old_size & -old_size).bit_length() - 1
    # A perfect old tree is its own seed; otherwise the proof starts with one.
    seed = 0 if old_size == 1 << shift else 1
    return seed + inner - shift + border


# --- verifying proofs ------------------------------------------------------------


def _check_index(index: int, size: int) -> None:
    _check_uint("leaf index", index)
    _check_uint("tree size", size)
    if index >= size:
        raise VerificationError(f"leaf index {index} is beyond tree size {size}", index=index)


def _check_hash(what: str, value: bytes, index: int | None = None) -> None:
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{what} has {len(value)} bytes, want {HASH_SIZE}", index=index)


def _check_proof(proof: Sequence[bytes], want: int, where: str, index: int | None) -> None:
    got = len(proof)
    if got > want:
        raise VerificationError(
            f"proof too long (trailing garbage): {got} hashes, want {want} {where}", index=index
        )
    if got < want:
        raise VerificationError(f"truncated proof: {got} hashes, want {want} {where}", index=index)
    for i, value in enumerate(proof):
        _check_hash(f"proof hash [{i}]", value, index)


def _mismatch(what: str, calculated: bytes, expected: bytes, index: int | None = None) -> None:
    if calculated != expected:
        raise VerificationError(
            f"{what} mismatch: calculated {calculated.hex()}, expected {expected.hex()}",
            index=index,
        )


def _check_empty_root(which: str, root: bytes) -> None:
    if root != EMPTY_ROOT:
        raise VerificationError(
            f"{which} tree of size 0 must have the empty-tree root {EMPTY_ROOT.hex()}, "
            f"got {root.hex()}"
        )


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, value in enumerate(proof):
        if index >> i & 1:
            seed = sha256(NODE_PREFIX + value + seed).digest()
        else:
            seed = sha256(NODE_PREFIX + seed + value).digest()
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    # Only left siblings: this recomputes the older, smaller version of the subtree.
    for i, value in enumerate(proof):
        if index >> i & 1:
            seed = sha256(NODE_PREFIX + value + seed).digest()
    return seed


def _chain_border(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for value in proof:
        seed = sha256(NODE_PREFIX + value + seed).digest()
    return seed


def root_from_inclusion(
    *, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` binds leaf ``index`` with ``leaf_hash`` to; raises if malformed."""
    _check_index(index, size)
    _check_hash("leaf hash", leaf_hash, index)
    want = inclusion_proof_size(index=index, size=size)
    _check_proof(proof, want, f"for leaf {index} in a tree of size {size}", index)
    inner = (index ^ (size - 1)).bit_length()
    root = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border(root, proof[inner:])


def verify_inclusion(
    *, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise :class:`VerificationError` unless ``proof`` binds leaf ``index`` to ``root``."""
    _check_index(index, size)
    _check_hash("root hash", root, index)
    calculated = root_from_inclusion(index=index, size=size, leaf_hash=leaf_hash, proof=proof)
    _mismatch(f"root (leaf {index}, tree size {size})", calculated, root, index)


def verify_consistency(
    *,
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Raise :class:`VerificationError` unless the tree ``new_root`` extends ``old_root``."""
    _check_uint("old tree size", old_size)
    _check_uint("new tree size", new_size)
    if old_size > new_size:
        raise VerificationError(f"old tree size {old_size} is beyond new tree size {new_size}")
    _check_hash("old root hash", old_root)
    _check_hash("new root hash", new_root)
    want = consistency_proof_size(old_size=old_size, new_size=new_size)
    _check_proof(proof, want, f"from tree size {old_size} to {new_size}", None)
    if old_size == 0:
        _check_empty_root("old", old_root)
        if new_size == 0:
            _check_empty_root("new", new_root)
        return
    if old_size == new_size:
        if old_root != new_root:
            raise VerificationError(
                f"roots differ at equal tree size {old_size}: "
                f"old {old_root.hex()}, new {new_root.hex()}"
            )
        return
    # transparency-dev/merkle's algorithm: the proof is a suffix of the inclusion
    # proof of leaf old_size-1, starting at the rightmost perfect subtree of the
    # old tree; left siblings alone rebuild the old root, all of them the new one.
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length()
    shift = (old_size & -old_size).bit_length() - 1
    inner -= shift
    if old_size == 1 << shift:
        seed, rest = old_root, proof
    else:
        seed, rest = proof[0], proof[1:]
    mask = (old_size - 1) >> shift
    calculated_old = _chain_border(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    _mismatch(f"old root (tree size {old_size})", calculated_old, old_root)
    calculated_new = _chain_border(_chain_inner(seed, rest[:inner], mask), rest[inner:])
    _mismatch(f"new root (tree size {new_size})", calculated_new, new_root)
