"""Graph queries over a real SQLite ``derivations`` table, against a plain reference walk."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from sqlalchemy import insert

from ledger.lineage.graph import ancestors, descendants, originals, walk
from ledger.store import Store, locked_write, reading, sqlite_url
from ledger.store.tables import DerivationRow

Graph = tuple[Store, list[tuple[int, int, int]]]


def _reach(edges: list[tuple[int, int, int]], start: set[int], forward: bool) -> set[int]:
    seen, stack = set(start), list(start)
    while stack:
        node = stack.pop()
        for _, parent, child in edges:
            a, b = (parent, child) if forward else (child, parent)
            if a == node and b not in seen:
                seen.add(b)
                stack.append(b)
    return seen


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graph]:
    rng = random.Random(3)
    edges = []
    for idx in range(1000, 1600):  # a DAG: every edge from a smaller to a larger image index
        parent = rng.randrange(0, 300)
        edges.append((idx, parent, rng.randrange(parent + 1, 320)))
    store = Store.create(sqlite_url(tmp_path_factory.mktemp("graph") / "g.db"))
    with locked_write(store.engine) as conn:
        conn.execute(insert(DerivationRow.__table__),  # type: ignore[attr-defined]
                     [{"idx": i, "parent": p, "child": c, "inferred": i % 7 == 0}
                      for i, p, c in edges])
    yield store, edges
    store.engine.dispose()


def test_descendants_and_ancestors_match_the_reference(
        graph: Graph) -> None:
    store, edges = graph
    rng = random.Random(5)
    for _ in range(8):
        roots = set(rng.sample(range(320), rng.randint(1, 12)))
        assert descendants(store, roots) == sorted(_reach(edges, roots, True) - roots)
        assert ancestors(store, roots) == sorted(_reach(edges, roots, False) - roots)
    assert descendants(store, []) == []


def test_originals_and_walk(graph: Graph) -> None:
    store, edges = graph
    image = max(c for _, _, c in edges)
    behind = _reach(edges, {image}, False)
    with_parent = {c for _, _, c in edges}
    assert originals(store, image) == sorted(behind - with_parent)
    with reading(store.engine) as conn:
        walked = list(walk(conn, image, "back"))
    into = {e for e in edges if e[2] in behind}
    assert {(w.entry, w.parent, w.child) for w in walked} == into  # each edge once
    assert [w.depth for w in walked] == sorted(w.depth for w in walked)  # breadth first
    assert {w.inferred for w in walked} <= {True, False}
    assert walked and walked[0].depth == 1 and walked[0].child == image


def test_an_image_without_edges(graph: Graph) -> None:
    store, _ = graph
    assert originals(store, 10_000) == [10_000]
    assert descendants(store, [10_000]) == [] and ancestors(store, [10_000]) == []
