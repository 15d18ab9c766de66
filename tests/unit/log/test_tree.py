from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.log.hashing import EMPTY_ROOT
from ledger.log.tree import (
    append_leaves,
    appended_nodes,
    check_range,
    frontier,
    grow,
    root_from_frontier,
    root_of_leaf_hashes,
    split_point,
    subtree_hash,
    subtree_nodes,
)

from .trees import LEAF_HASHES, MAX_LEAVES, REF, STORE, store_for


def _covered(nodes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(i << lv, (i + 1) << lv) for lv, i in nodes]


@pytest.mark.parametrize("size", [*range(70), 1000, 1023, 1024, 2**40 + 5, 2**64 - 1])
def test_frontier_tiles_the_tree_left_to_right(size: int) -> None:
    nodes = frontier(size)
    assert len(nodes) == size.bit_count()
    ranges = _covered(nodes)
    assert [lo for lo, _ in ranges] == [0, *(hi for _, hi in ranges[:-1])][: len(ranges)]
    assert (ranges[-1][1] if ranges else 0) == size
    assert [lv for lv, _ in nodes] == sorted({lv for lv, _ in nodes}, reverse=True)


def test_frontier_refuses_bad_sizes() -> None:
    with pytest.raises(InputError, match="tree size"):
        frontier(-1)
    with pytest.raises(InputError, match="tree size"):
        frontier(2**64)


def test_split_point() -> None:
    assert [split_point(n) for n in range(2, 10)] == [1, 2, 2, 4, 4, 4, 4, 8]


def test_root_from_frontier_equals_reference_at_every_size() -> None:
    for size in range(MAX_LEAVES + 1):
        hashes = [STORE[node] for node in frontier(size)]
        assert root_from_frontier(size, hashes) == REF.root(size)


def test_root_of_leaf_hashes_equals_reference() -> None:
    for size in [*range(300), 511, 512, 513, MAX_LEAVES]:
        assert root_of_leaf_hashes(LEAF_HASHES[:size]) == REF.root(size)
    assert root_of_leaf_hashes([]) == EMPTY_ROOT


def test_every_stored_node_is_the_reference_hash_of_its_range() -> None:
    for (level, index), value in STORE.items():
        assert value == REF.mth(index << level, (index + 1) << level)
    want = sum(MAX_LEAVES >> level for level in range(MAX_LEAVES.bit_length()))
    assert len(STORE) == want  # every perfect node, each once: about 2 per leaf


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 300),
    st.lists(st.integers(0, 70), max_size=8),
)
def test_appending_in_batches_equals_appending_at_once(start: int, batches: list[int]) -> None:
    end = min(MAX_LEAVES, start + sum(batches))
    nodes = store_for(start)
    size, hashes = start, [nodes[n] for n in frontier(start)]
    made: dict[tuple[int, int], bytes] = {}
    for count in batches:
        batch = LEAF_HASHES[size : min(end, size + count)]
        new, hashes = append_leaves(size=size, frontier_hashes=hashes, leaf_hashes=batch)
        for level, index, value in new:
            assert (level, index) not in made  # each node is completed exactly once
            made[(level, index)] = value
        size += len(batch)
        assert hashes == [store_for(size)[n] for n in frontier(size)]
        assert root_from_frontier(size, hashes) == REF.root(size)
    assert size == end
    before = store_for(start)
    want = {k: v for k, v in store_for(end).items() if k not in before}
    assert made == want


def test_appended_nodes_order_and_levels() -> None:
    new = appended_nodes(
        size=3,
        frontier_hashes=[STORE[(1, 0)], STORE[(0, 2)]],
        leaf_hashes=[LEAF_HASHES[3], LEAF_HASHES[4]],
    )
    assert [(lv, i) for lv, i, _ in new] == [(0, 3), (0, 4), (1, 1), (2, 0)]


def test_grow_gives_one_run_per_level_of_consecutive_nodes() -> None:
    for size, count in [(0, 1), (0, 8), (3, 2), (5, 11), (64, 64), (1000, 100)]:
        hashes = [STORE[n] for n in frontier(size)]
        runs, grown = grow(
            size=size, frontier_hashes=hashes, leaf_hashes=LEAF_HASHES[size : size + count]
        )
        assert [level for level, _, _ in runs] == list(range(len(runs)))
        want = {k: v for k, v in store_for(size + count).items() if k not in store_for(size)}
        made = {(lv, first + i): h for lv, first, run in runs for i, h in enumerate(run)}
        assert made == want
        assert grown == [STORE[n] for n in frontier(size + count)]


def test_append_validates_its_input() -> None:
    with pytest.raises(InputError, match="3 has 2 frontier nodes, got 1"):
        appended_nodes(size=3, frontier_hashes=[STORE[(1, 0)]], leaf_hashes=[])
    with pytest.raises(InputError, match=r"frontier hash \[0\] has 31 bytes"):
        appended_nodes(size=1, frontier_hashes=[b"x" * 31], leaf_hashes=[])
    with pytest.raises(InputError, match=r"leaf hash \[1\] has 33 bytes"):
        appended_nodes(size=0, frontier_hashes=[], leaf_hashes=[b"x" * 32, b"x" * 33])
    with pytest.raises(InputError, match="frontier nodes"):
        root_from_frontier(2, [])


def test_subtree_hash_of_every_rfc_range_equals_reference() -> None:
    size = 200
    nodes = store_for(size)
    count = 0
    for lo in range(size):
        for hi in range(lo + 1, size + 1):
            width = hi - lo
            if lo % (1 << (width - 1).bit_length()):
                continue
            count += 1
            parts = subtree_nodes(start=lo, end=hi)
            assert _covered(parts)[0][0] == lo and _covered(parts)[-1][1] == hi
            assert subtree_hash(start=lo, end=hi, nodes=nodes) == REF.mth(lo, hi)
    assert count > size


@pytest.mark.parametrize(("start", "end"), [(0, 0), (3, 2), (-1, 1), (1, 3), (2, 5), (4, 9)])
def test_unaligned_or_empty_ranges_are_refused(start: int, end: int) -> None:
    with pytest.raises(InputError, match=r"tree range \["):
        check_range(start=start, end=end)


def test_subtree_hash_names_a_missing_node() -> None:
    message = r"missing tree node \(level 0, index 6\) for range \[4, 7\)"
    with pytest.raises(InputError, match=message):
        subtree_hash(start=4, end=7, nodes={(1, 2): b"x" * 32})


def test_growing_leaf_by_leaf_equals_the_reference() -> None:
    hashes: list[bytes] = []
    made: dict[tuple[int, int], bytes] = {}
    for size in range(600):
        runs, hashes = grow(size=size, frontier_hashes=hashes, leaf_hashes=[LEAF_HASHES[size]])
        made |= {(lv, first + i): h for lv, first, run in runs for i, h in enumerate(run)}
        assert hashes == [STORE[n] for n in frontier(size + 1)]
    assert made == store_for(600)
