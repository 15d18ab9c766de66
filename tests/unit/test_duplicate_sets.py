"""Pure parts of the duplicate sets: connected groups and the index cache header."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.similarity.catalog import CACHE_MAGIC, _parse_cache
from ledger.similarity.sets import Link, components


def _brute_groups(size: int, pairs: list[tuple[int, int]]) -> set[frozenset[int]]:
    groups = [{i} for i in range(size)]
    for a, b in pairs:
        ga = next(g for g in groups if a in g)
        gb = next(g for g in groups if b in g)
        if ga is not gb:
            ga |= gb
            groups.remove(gb)
    return {frozenset(g) for g in groups if len(g) > 1}


@given(
    st.integers(min_value=1, max_value=30).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40),
        )
    )
)
def test_components_are_the_connected_groups(case: tuple[int, list[tuple[int, int]]]) -> None:
    size, pairs = case
    links = [Link(a, b, "near", 1, "") for a, b in pairs if a != b]
    found = components(size, links)
    assert {frozenset(g) for g in found} == _brute_groups(size, [(x.a, x.b) for x in links])
    assert [len(g) for g in found] == sorted((len(g) for g in found), reverse=True)
    assert all(g == sorted(g) for g in found)


def test_a_cache_header_is_parsed_and_checked() -> None:
    header = b'{"v": 1, "size": 7, "leaf_hash": "ab"}'
    body = b"index bytes"
    data = CACHE_MAGIC + struct.pack("<I", len(header)) + header + body
    assert _parse_cache(data) == (7, "ab", body)
    with pytest.raises(InputError):
        _parse_cache(b"garbage")
    other = b'{"v": 2, "size": 7, "leaf_hash": "ab"}'
    with pytest.raises(InputError):
        _parse_cache(CACHE_MAGIC + struct.pack("<I", len(other)) + other + body)
