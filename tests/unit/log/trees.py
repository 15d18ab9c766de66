"""Shared test data for the pure log tests: one reference tree and its perfect-node store."""

from __future__ import annotations

from functools import cache

from ledger.log.tree import appended_nodes

from .reference import RefTree, hash_leaf

MAX_LEAVES = 1100
LEAVES = [f"leaf {i}".encode() for i in range(MAX_LEAVES)]
LEAF_HASHES = [hash_leaf(data) for data in LEAVES]
REF = RefTree(LEAVES)
# Every perfect node of the largest tree; trees of any smaller size are prefixes.
STORE = {
    (level, index): value
    for level, index, value in appended_nodes(size=0, frontier_hashes=[], leaf_hashes=LEAF_HASHES)
}


@cache
def store_for(size: int) -> dict[tuple[int, int], bytes]:
    """The perfect nodes a log of ``size`` leaves has stored, and no others (do not mutate)."""
    return {(lv, i): h for (lv, i), h in STORE.items() if (i + 1) << lv <= size}
