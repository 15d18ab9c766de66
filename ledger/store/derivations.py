"""Queries behind lineage: the derivations and image_uids projections, read by index.

Functions over an open connection, so the sequencer reads them inside its append
transaction; the graph walks (``ledger.lineage.graph``) call them level by level.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import Connection, bindparam, select

from ledger.store.tables import DerivationRow, ImageRow, ImageUidRow, LogLeaf

_EDGES = DerivationRow.__table__  # type: ignore[attr-defined]
_UIDS = ImageUidRow.__table__  # type: ignore[attr-defined]
_IMAGES = ImageRow.__table__  # type: ignore[attr-defined]
_LEAVES = LogLeaf.__table__  # type: ignore[attr-defined]
_IN = 500  # members of one IN (...) list

# (entry index of the image.derived, parent, child, inferred)
Edge = tuple[int, int, int, bool]


def _chunks(values: Iterable[int]) -> Iterable[list[int]]:
    items = sorted(set(values))
    for start in range(0, len(items), _IN):
        yield items[start : start + _IN]


# Built once: a walk runs them level by level, and building the statement cost more than
# running it on an indexed column.
_COLUMNS = (_EDGES.c.idx, _EDGES.c.parent, _EDGES.c.child, _EDGES.c.inferred)
_FROM = select(*_COLUMNS).where(_EDGES.c.parent.in_(bindparam("ids", expanding=True)))
_TO = select(*_COLUMNS).where(_EDGES.c.child.in_(bindparam("ids", expanding=True)))


def edges_from(conn: Connection, parents: Iterable[int]) -> list[Edge]:
    """The edges whose parent is one of ``parents``, by entry index."""
    found: list[Edge] = []
    for part in _chunks(parents):
        found.extend((r[0], r[1], r[2], bool(r[3])) for r in conn.execute(_FROM, {"ids": part}))
    return sorted(found)


def edges_to(conn: Connection, children: Iterable[int]) -> list[Edge]:
    """The edges whose child is one of ``children``, by entry index."""
    found: list[Edge] = []
    for part in _chunks(children):
        found.extend((r[0], r[1], r[2], bool(r[3])) for r in conn.execute(_TO, {"ids": part}))
    return sorted(found)


def edge_between(conn: Connection, parent: int, child: int) -> int | None:
    """The first image.derived entry from ``parent`` to ``child``, if any."""
    query = select(_EDGES.c.idx).where(_EDGES.c.parent == parent, _EDGES.c.child == child)
    return conn.execute(query.order_by(_EDGES.c.idx).limit(1)).scalar()


def images_by_sop_uid(conn: Connection, uids: Sequence[str]) -> dict[str, list[int]]:
    """SOP Instance UID pseudonym -> the entry indexes that registered it, in log order."""
    found: dict[str, list[int]] = {}
    for start in range(0, len(uids), _IN):
        query = select(_UIDS.c.sop_uid, _UIDS.c.idx).where(
            _UIDS.c.sop_uid.in_(list(uids[start : start + _IN])))
        for uid, idx in conn.execute(query.order_by(_UIDS.c.idx)):
            found.setdefault(str(uid), []).append(int(idx))
    return found


def image_digests(conn: Connection, indexes: Iterable[int]) -> dict[int, tuple[str, str]]:
    """entry index -> (file, pixel SHA-256) of the images projection rows at those indexes."""
    found: dict[int, tuple[str, str]] = {}
    for part in _chunks(indexes):
        query = select(_IMAGES.c.idx, _IMAGES.c.file_sha256, _IMAGES.c.pixel_sha256).where(
            _IMAGES.c.idx.in_(part))
        found.update((int(i), (str(f), str(p))) for i, f, p in conn.execute(query))
    return found


def leaves_of_kind(conn: Connection, kind: str, *, chunk: int = 4096
                   ) -> Iterator[tuple[int, bytes]]:  # fmt: skip
    """(index, leaf bytes) of every leaf of ``kind`` (the stored column), in index order,
    read ``chunk`` at a time (a whole kind's leaves are never held at once)."""
    after = -1
    while True:
        query = (select(_LEAVES.c.idx, _LEAVES.c.leaf)
                 .where(_LEAVES.c.kind == kind, _LEAVES.c.idx > after)
                 .order_by(_LEAVES.c.idx).limit(chunk))
        rows = conn.execute(query).all()
        for idx, leaf in rows:
            yield int(idx), bytes(leaf)
        if len(rows) < chunk:
            return
        after = int(rows[-1][0])


__all__ = ["Edge", "edge_between", "edges_from", "edges_to", "image_digests",
           "images_by_sop_uid", "leaves_of_kind"]
