"""The Merkle tree as stored: perfect subtree nodes, appended without recomputation.

Node ``(level, index)`` is the root of the perfect subtree over leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes.
The store keeps every perfect node (about two per leaf). Any RFC 9162 tree
hash, of the whole tree or of a ragged right-edge range, is a right fold of a
few perfect nodes, so proofs never need the leaves.

Everything here is pure and works on raw 32-byte hashes, without per-node
objects, because appends and audits run it once per leaf.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from hashlib import sha256

from ledger.errors import InputError
from ledger.log.encoding import MAX_UINT64
from ledger.log.hashing import EMPTY_ROOT, HASH_SIZE, NODE_PREFIX

__all__ = [
    "Node",
    "Run",
    "append_leaves",
    "appended_nodes",
    "check_range",
    "frontier",
    "grow",
    "root_from_frontier",
    "root_of_leaf_hashes",
    "split_point",
    "subtree_hash",
    "subtree_nodes",
]

Node = tuple[int, int]
"""``(level, index)`` of a perfect subtree."""


def _check_size(name: str, value: int) -> None:
    if not 0 <= value <= MAX_UINT64:
        raise InputError(f"{name} must be between 0 and 2**64-1, got {value}")


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise InputError(f"{what} has {len(value)} bytes, want {HASH_SIZE}")


def split_point(size: int) -> int:
    """The largest power of two strictly less than ``size`` (``size >= 2``).

    RFC 9162 splits every tree of ``size`` leaves there: the left part is
    perfect, the right part holds the rest.
    """
    return 1 << ((size - 1).bit_length() - 1)


def check_range(*, start: int, end: int) -> None:
    """Refuse ``[start, end)`` unless it is a node of some RFC 9162 tree.

    Such ranges are non-empty and ``start`` is a multiple of the smallest power
    of two ``>= end - start``: a perfect subtree or the ragged right edge of
    one.
    """
    if not 0 <= start < end:
        raise InputError(f"tree range [{start}, {end}) is empty or negative")
    width = end - start
    if start & ((1 << (width - 1).bit_length()) - 1):
        raise InputError(
            f"tree range [{start}, {end}) is not aligned: {start} is not a multiple of "
            f"{1 << (width - 1).bit_length()}"
        )


def frontier(size: int) -> list[Node]:
    """The perfect nodes, left to right, whose leaves make up ``[0, size)``.

    One node per set bit of ``size``, largest first.
    """
    _check_size("tree size", size)
    nodes: list[Node] = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def subtree_nodes(*, start: int, end: int) -> list[Node]:
    """Decompose the RFC tree range ``[start, end)`` into perfect nodes, left to right."""
    check_range(start=start, end=end)
    nodes: list[Node] = []
    width = end - start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def subtree_hash(*, start: int, end: int, nodes: Mapping[Node, bytes]) -> bytes:
    """RFC 9162 MTH of leaves ``[start, end)`` from the stored perfect nodes.

    RFC 9162 splits at the largest power of two strictly below the size, so
    the hash is the right fold of the perfect decomposition: the last (smallest)
    node is hashed first and every larger one is prepended.
    """
    needed = subtree_nodes(start=start, end=end)
    hashes = []
    for node in needed:
        value = nodes.get(node)
        if value is None:
            raise InputError(
                f"missing tree node (level {node[0]}, index {node[1]}) for range [{start}, {end})"
            )
        hashes.append(value)
    return _fold_right(hashes)


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = sha256(NODE_PREFIX + left + root).digest()
    return root


def root_from_frontier(size: int, frontier_hashes: Sequence[bytes]) -> bytes:
    """The tree root from the hashes of ``frontier(size)``, in that order."""
    _check_frontier(size, frontier_hashes)
    if size == 0:
        return EMPTY_ROOT
    return _fold_right(frontier_hashes)


def _check_frontier(size: int, frontier_hashes: Sequence[bytes]) -> None:
    _check_size("tree size", size)
    want = size.bit_count()
    if len(frontier_hashes) != want:
        raise InputError(
            f"a tree of size {size} has {want} frontier nodes, got {len(frontier_hashes)}"
        )
    for i, value in enumerate(frontier_hashes):
        if len(value) != HASH_SIZE:  # the name is formatted only for the error
            _check_hash(f"frontier hash [{i}]", value)


# The new perfect nodes of one level: (level, index of the first, their hashes).
Run = tuple[int, int, list[bytes]]


def grow(
    *, size: int, frontier_hashes: Sequence[bytes], leaf_hashes: Sequence[bytes]
) -> tuple[list[Run], list[bytes]]:
    """Append ``leaf_hashes`` to the tree of ``size`` leaves: the one implementation of the
    tree's growth (appends, audits, frame trees).

    Returns the newly completed perfect nodes as one run per level (the new leaves first)
    and the frontier hashes of the grown tree.
    Cost: one hash per new node, O(batch + log n); nothing is recomputed.
    """
    _check_frontier(size, frontier_hashes)
    _check_size("new tree size", size + len(leaf_hashes))
    if set(map(len, leaf_hashes)) - {HASH_SIZE}:  # in C: the audits grow 4096 leaves at once
        position, value = next((i, v) for i, v in enumerate(leaf_hashes) if len(v) != HASH_SIZE)
        raise InputError(f"leaf hash [{position}] has {len(value)} bytes, want {HASH_SIZE}")
    runs: list[Run] = []
    if len(leaf_hashes) == 1:  # the audit's per-leaf replay: spare it the batch set-up
        value, stack = leaf_hashes[0], list(frontier_hashes)
        runs.append((0, size, [value]))
        # Binary increment: each trailing zero bit of the new size merges the two rightmost.
        for level in range(1, ((size + 1) & -(size + 1)).bit_length()):
            value = sha256(NODE_PREFIX + stack.pop() + value).digest()
            runs.append((level, size >> level, [value]))
        stack.append(value)
        return runs, stack
    # The frontier holds one completed subtree per set bit of the size. Level by level,
    # the new nodes pair up: a first node that is a right child takes its left sibling
    # from the frontier, a last node that is a left child waits there for its sibling.
    # One batch of hashes per level keeps the audits' hot loop in C.
    levels = [level for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1]
    waiting = dict(zip(levels, frontier_hashes, strict=True))
    level, first, run = 0, size, list(leaf_hashes)
    while run:
        runs.append((level, first, run))
        if first & 1:
            run = [waiting.pop(level), *run]
            first -= 1
        if len(run) & 1:
            waiting[level] = run[-1]
            run = run[:-1]
        pairs = zip(run[::2], run[1::2], strict=True)
        run = [sha256(NODE_PREFIX + a + b).digest() for a, b in pairs]
        first >>= 1
        level += 1
    return runs, [waiting[level] for level in sorted(waiting, reverse=True)]


def append_leaves(
    *, size: int, frontier_hashes: Sequence[bytes], leaf_hashes: Sequence[bytes]
) -> tuple[list[tuple[int, int, bytes]], list[bytes]]:
    """:func:`grow`, with every new node as ``(level, index, hash)``, level by level."""
    runs, stack = grow(size=size, frontier_hashes=frontier_hashes, leaf_hashes=leaf_hashes)
    made = [(level, first + i, value) for level, first, run in runs for i, value in enumerate(run)]
    return made, stack


def appended_nodes(
    *, size: int, frontier_hashes: Sequence[bytes], leaf_hashes: Sequence[bytes]
) -> list[tuple[int, int, bytes]]:
    """Every perfect node ``(level, index, hash)`` completed by appending ``leaf_hashes``."""
    return append_leaves(size=size, frontier_hashes=frontier_hashes, leaf_hashes=leaf_hashes)[0]


def root_of_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 MTH of a whole list of leaf hashes, iteratively, in O(n).

    Pairing neighbours level by level and promoting an odd last node unchanged
    builds exactly the RFC tree. Meant for full audits, so the leaf hashes are
    trusted to be 32 bytes (they come from ``leaf_hash``).
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        odd = level[-1] if len(level) & 1 else None
        pairs = zip(level[::2], level[1::2], strict=False)  # an odd last node is left out
        level = [sha256(NODE_PREFIX + a + b).digest() for a, b in pairs]
        if odd is not None:
            level.append(odd)
    return level[0]
