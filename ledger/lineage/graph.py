"""Queries over the derivation graph (the ``derivations`` projection), level by level.

Nodes are entry indexes of image.registered entries; an edge is an image.derived entry
(its index, parent, child). Each walk asks the database for a whole level at once (one
indexed ``IN`` query per 500 nodes), so its cost follows the size of the answer, not of
the log. ``walk`` yields a tree's edges as it finds them: a caller that writes them out
(the PROV export) holds one level of the tree, never the whole of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal, NamedTuple

from sqlalchemy import Connection

from ledger.store import Store, reading
from ledger.store.derivations import edges_from, edges_to

Direction = Literal["back", "forward"]


class TreeEdge(NamedTuple):
    """One edge met by a walk: ``depth`` 1 for the edges touching the start image."""

    depth: int
    entry: int  # index of the image.derived entry
    parent: int
    child: int
    inferred: bool


def descendants(store: Store, roots: Iterable[int]) -> list[int]:
    """Entry indexes of every image derived, transitively, from the images ``roots``
    (entry indexes of image.registered), sorted, the roots themselves excluded."""
    start = set(roots)
    with reading(store.engine) as conn:
        found = _reach(conn, start, "forward")
    return sorted(found - start)


def ancestors(store: Store, images: Iterable[int]) -> list[int]:
    """Entry indexes of every image the images ``images`` were derived from, transitively,
    sorted, the images themselves excluded."""
    start = set(images)
    with reading(store.engine) as conn:
        found = _reach(conn, start, "back")
    return sorted(found - start)


def originals(store: Store, image: int) -> list[int]:
    """The registered originals behind ``image``: its ancestors derived from nothing (the
    image itself if it has no parent)."""
    with reading(store.engine) as conn:
        reached = _reach(conn, {image}, "back") | {image}
        with_parent = {edge[2] for edge in edges_to(conn, reached)}
    return sorted(reached - with_parent)


def _reach(conn: Connection, start: set[int], direction: Direction) -> set[int]:
    seen = set(start)
    level = set(start)
    while level:
        edges = edges_from(conn, level) if direction == "forward" else edges_to(conn, level)
        ends = {e[2] for e in edges} if direction == "forward" else {e[1] for e in edges}
        level = ends - seen
        seen |= level
    return seen


def walk(conn: Connection, image: int, direction: Direction, *,
         max_depth: int | None = None) -> Iterator[TreeEdge]:
    """The edges back to the originals (``back``) or forward to every derivative, breadth
    first, each edge once (a DAG may reach a node twice: it is expanded once)."""
    seen = {image}
    level = [image]
    depth = 0
    while level and (max_depth is None or depth < max_depth):
        depth += 1
        edges = edges_from(conn, level) if direction == "forward" else edges_to(conn, level)
        nxt: list[int] = []
        for entry, parent, child, inferred in edges:
            yield TreeEdge(depth, entry, parent, child, inferred)
            end = child if direction == "forward" else parent
            if end not in seen:
                seen.add(end)
                nxt.append(end)
        level = nxt


__all__ = ["Direction", "TreeEdge", "ancestors", "descendants", "originals", "walk"]
