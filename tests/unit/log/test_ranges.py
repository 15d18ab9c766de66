from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InputError, VerificationError
from ledger.log.ranges import (
    range_outside_nodes,
    range_proof,
    range_proof_nodes,
    root_from_range,
    verify_range,
)
from ledger.log.tree import check_range

from .trees import LEAF_HASHES, MAX_LEAVES, REF, store_for


def _bundle(start: int, end: int, size: int) -> dict[tuple[int, int], bytes]:
    needed = range_proof_nodes(start=start, end=end, size=size)
    stored = store_for(size)
    assert needed <= stored.keys()
    return range_proof(start=start, end=end, size=size, nodes={k: stored[k] for k in needed})


def _check(start: int, end: int, size: int) -> None:
    outside = range_outside_nodes(start=start, end=end, size=size)
    # Outside nodes are RFC nodes, disjoint from the range, left to right, O(log n).
    for lo, hi in outside:
        check_range(start=lo, end=hi)
        assert hi <= start or lo >= end
        assert REF.mth(lo, hi)  # a node of the reference tree's recursion
    assert outside == sorted(outside)
    assert len(outside) <= 2 * size.bit_length()
    bundle = _bundle(start, end, size)
    assert list(bundle) == outside
    assert all(bundle[r] == REF.mth(*r) for r in outside)
    leaves = LEAF_HASHES[start:end]
    assert root_from_range(
        start=start, end=end, size=size, leaf_hashes=leaves, outside=bundle
    ) == REF.root(size)
    verify_range(
        start=start, end=end, size=size, leaf_hashes=leaves, outside=bundle, root=REF.root(size)
    )


def test_every_range_of_small_trees_round_trips() -> None:
    for size in range(1, 40):
        for start in range(size):
            for end in range(start + 1, size + 1):
                _check(start, end, size)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_ranges_of_larger_trees_round_trip(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, MAX_LEAVES))
    start = data.draw(st.integers(0, size - 1))
    end = data.draw(st.integers(start + 1, min(size, start + 64)))
    _check(start, end, size)


def test_whole_tree_needs_no_outside_nodes() -> None:
    assert range_outside_nodes(start=0, end=13, size=13) == []


def test_single_leaf_range_is_an_inclusion_proof() -> None:
    assert range_outside_nodes(start=5, end=6, size=8) == [(0, 4), (4, 5), (6, 8)]
    assert range_outside_nodes(start=6, end=7, size=7) == [(0, 4), (4, 6)]


def _flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 1, *value[1:]])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_tampered_leaves_or_nodes_fail(data: st.DataObject) -> None:
    size = data.draw(st.integers(2, 300))
    start = data.draw(st.integers(0, size - 1))
    end = data.draw(st.integers(start + 1, size))
    leaves = list(LEAF_HASHES[start:end])
    bundle = _bundle(start, end, size)
    tamper_node = data.draw(st.booleans())
    if bundle and tamper_node:
        key = data.draw(st.sampled_from(sorted(bundle)))
        bundle[key] = _flip(bundle[key])
    else:
        at = data.draw(st.integers(0, len(leaves) - 1))
        leaves[at] = _flip(leaves[at])
    with pytest.raises(VerificationError, match=r"calculated [0-9a-f]{64}, expected [0-9a-f]{64}"):
        verify_range(
            start=start, end=end, size=size, leaf_hashes=leaves, outside=bundle, root=REF.root(size)
        )


def test_missing_extra_or_malformed_parts_are_input_errors() -> None:
    size, start, end = 20, 5, 9
    leaves = LEAF_HASHES[start:end]
    bundle = _bundle(start, end, size)
    first = next(iter(bundle))

    def run(leaf_hashes: list[bytes], outside: dict[tuple[int, int], bytes]) -> None:
        root_from_range(start=start, end=end, size=size, leaf_hashes=leaf_hashes, outside=outside)

    with pytest.raises(InputError, match=r"missing node\(s\) \[\(0, 4\)\]"):
        run(leaves, {k: v for k, v in bundle.items() if k != first})
    with pytest.raises(InputError, match=r"unexpected node\(s\) \[\(5, 6\)\]"):
        run(leaves, {**bundle, (5, 6): LEAF_HASHES[5]})
    with pytest.raises(InputError, match="needs 4 leaf hashes, got 3"):
        run(leaves[:3], bundle)
    with pytest.raises(InputError, match=r"leaf hash \[6\] has 2 bytes"):
        run([leaves[0], b"xx", *leaves[2:]], bundle)
    with pytest.raises(InputError, match=r"node \(0, 4\) has 0 bytes"):
        run(leaves, {**bundle, first: b""})
    for bad in ((5, 5, 20), (6, 5, 20), (0, 21, 20), (-1, 2, 20)):
        with pytest.raises(InputError, match="is not a non-empty part of a tree"):
            range_outside_nodes(start=bad[0], end=bad[1], size=bad[2])
    with pytest.raises(VerificationError, match="root hash has 3 bytes"):
        verify_range(
            start=start, end=end, size=size, leaf_hashes=leaves, outside=bundle, root=b"abc"
        )
