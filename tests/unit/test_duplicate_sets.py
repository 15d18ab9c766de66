"""Pure parts of the duplicate sets: complete-linkage groups and the index cache header."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.similarity.catalog import CACHE_MAGIC, _parse_cache
from ledger.similarity.linkage import complete_linkage
from ledger.similarity.sets import Link

PairCase = tuple[int, list[tuple[int, int]]]
pair_cases = st.integers(min_value=1, max_value=30).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60),
    )
)


def _links(pairs: list[tuple[int, int]]) -> list[Link]:
    return [Link(a, b, "near", 1, "") for a, b in pairs if a != b]


@given(pair_cases)
def test_every_two_members_of_a_group_are_a_verified_pair(case: PairCase) -> None:
    size, pairs = case
    links = _links(pairs)
    linked = {frozenset((x.a, x.b)) for x in links}
    clusters, used = complete_linkage(size, links)
    assert used == links  # no check given: nothing compared on demand
    seen: set[int] = set()
    for c in clusters:
        assert len(c.members) >= 2 and not seen & set(c.members)
        seen |= set(c.members)
        for i, a in enumerate(c.members):
            for b in c.members[i + 1 :]:
                assert frozenset((a, b)) in linked
        # The group lists exactly the pairs among its members.
        inside = {frozenset((links[n].a, links[n].b)) for n in c.pairs}
        assert inside == {p for p in linked if p <= set(c.members)}
    assert [len(c.members) for c in clusters] == sorted(
        (len(c.members) for c in clusters), reverse=True
    )
    # Every link lies in a group or touches one: an image left alone has no link to another
    # image left alone (the greedy pass would have grouped the two).
    alone = set(range(size)) - seen
    assert not any(x.a in alone and x.b in alone for x in links)


def test_a_chain_of_two_links_does_not_join_its_ends() -> None:
    """A ~ B ~ C with A and C never verified: B joins one of them, never both."""
    links = [Link(0, 1, "near", 3, "a~b"), Link(1, 2, "near", 4, "b~c")]
    clusters, _ = complete_linkage(3, links)
    assert len(clusters) == 1 and len(clusters[0].members) == 2
    assert clusters[0].members[0] == 1  # the representative: most links


def test_a_pair_compared_on_demand_completes_a_group() -> None:
    asked: list[tuple[int, int]] = []

    def check(i: int, j: int) -> Link | None:
        asked.append((i, j))
        return Link(i, j, "near", 5, "on demand") if (i, j) == (0, 2) else None

    links = [Link(0, 1, "near", 3, ""), Link(1, 2, "near", 4, ""), Link(2, 3, "near", 2, "")]
    clusters, used = complete_linkage(4, links, check)
    assert [sorted(c.members) for c in clusters] == [[0, 1, 2]]
    assert used[3:] == [Link(0, 2, "near", 5, "on demand")]
    assert sorted(clusters[0].pairs) == [0, 1, 3]
    assert all(len(set(p)) == 2 for p in asked) and len(asked) == len(set(asked))


def test_a_cache_header_is_parsed_and_checked() -> None:
    header = b'{"v": 2, "size": 7, "leaf_hash": "ab"}'
    body = b"index bytes"
    data = CACHE_MAGIC + struct.pack("<I", len(header)) + header + body
    assert _parse_cache(data) == (7, "ab", body)
    with pytest.raises(InputError):
        _parse_cache(b"garbage")
    other = b'{"v": 1, "size": 7, "leaf_hash": "ab"}'  # ids without frames (before issue 21)
    with pytest.raises(InputError):
        _parse_cache(CACHE_MAGIC + struct.pack("<I", len(other)) + other + body)
