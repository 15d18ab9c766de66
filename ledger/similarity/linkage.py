"""Duplicate groups by complete linkage: every pair of members is a verified pair.

Connected components chain: when A matches B and B matches C, A and C land in one group
even when they are unrelated (one false link between two unrelated pictures merges their
copies). Here a group grows from a representative, and a candidate joins only when it was
verified against *every* member already in the group; a pair that no search compared is
compared on demand (``check``), and one that does not verify keeps the two apart.

Greedy and deterministic: the representative is the image with the most links among the
images not grouped yet (ties: the first in set order); its linked images are tried in order
of how many of the others they are linked to, then set order. The group is then closed and
the next representative chosen among what is left. Links that end up between two groups,
or between a group and an image left alone, are kept and reported (nothing verified is
hidden); they are simply not grounds for membership.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ledger.similarity.sets import Link


@dataclass(frozen=True)
class Cluster:
    """Positions of a group (representative first, then in joining order) and the
    indexes, in the link list, of the verified pairs among them."""

    members: list[int]
    pairs: list[int]


def complete_linkage(
    size: int,
    links: Sequence[Link],
    check: Callable[[int, int], Link | None] | None = None,
) -> tuple[list[Cluster], list[Link]]:
    """Groups (two or more members, largest first) of ``size`` nodes, and the links used.

    ``links``: verified pairs (``a != b``). ``check(i, j)``: compares a pair no link covers
    and returns its link when it verifies (it is appended to the returned list), else None.
    Returns the clusters and every link (the given ones, then those ``check`` found)."""
    found: list[Link] = list(links)
    between: dict[tuple[int, int], int] = {}
    neighbours: list[set[int]] = [set() for _ in range(size)]
    for n, link in enumerate(found):
        _note(between, neighbours, link, n)
    tried: set[tuple[int, int]] = set()

    def linked(i: int, j: int) -> bool:
        key = (min(i, j), max(i, j))
        if key in between:
            return True
        if check is None or key in tried:
            return False
        tried.add(key)
        link = check(*key)
        if link is None:
            return False
        found.append(link)
        _note(between, neighbours, link, len(found) - 1)
        return True

    left = set(range(size))
    clusters: list[Cluster] = []
    while True:
        open_ = [i for i in sorted(left) if neighbours[i] & left]
        if not open_:
            break
        rep = max(open_, key=lambda i: (len(neighbours[i] & left), -i))
        pool = sorted(neighbours[rep] & left)
        pool.sort(key=lambda i: -len(neighbours[i] & set(pool)))
        members = [rep]
        for candidate in pool:
            if all(linked(candidate, m) for m in members):
                members.append(candidate)
        left -= set(members)  # two or more: the first candidate is linked to rep
        inside = set(members)
        pairs = sorted(n for key, n in between.items() if key[0] in inside and key[1] in inside)
        clusters.append(Cluster(members, pairs))
    clusters.sort(key=lambda c: (-len(c.members), min(c.members)))
    return clusters, found


def _note(
    between: dict[tuple[int, int], int], neighbours: list[set[int]], link: Link, n: int
) -> None:
    key = (min(link.a, link.b), max(link.a, link.b))
    between.setdefault(key, n)
    neighbours[link.a].add(link.b)
    neighbours[link.b].add(link.a)


def grouped_pairs(clusters: Iterable[Cluster]) -> set[int]:
    """Indexes of the links that lie inside a group."""
    return {n for c in clusters for n in c.pairs}
