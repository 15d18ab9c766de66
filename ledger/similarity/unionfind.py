"""Union-find: the connected groups of nodes ``0 .. size - 1`` under a list of pairs."""

from __future__ import annotations

from collections.abc import Iterable


def roots(size: int, pairs: Iterable[tuple[int, int]]) -> list[int]:
    """Each node's group representative: the smallest node of its connected group."""
    parent = list(range(size))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in pairs:
        rx, ry = root(x), root(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    return [root(x) for x in range(size)]
