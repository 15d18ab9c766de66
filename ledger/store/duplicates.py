"""Queries behind near-duplicate search: stored keys and grids, duplicate scans and edges.

Functions over an open connection, so callers choose the transaction (the edges of a
registration batch are written in the batch's own append transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, delete, func, insert, or_, select

from ledger.store.tables import DescriptorGridRow, DupEdgeRow, DupScanRow, ImageRow, LogLeaf

_IMAGES = ImageRow.__table__  # type: ignore[attr-defined]
_GRIDS = DescriptorGridRow.__table__  # type: ignore[attr-defined]
_SCANS = DupScanRow.__table__  # type: ignore[attr-defined]
_EDGES = DupEdgeRow.__table__  # type: ignore[attr-defined]
_LEAVES = LogLeaf.__table__  # type: ignore[attr-defined]
T = TypeVar("T")
CHUNK = 500  # bound on the parameters of one IN (...) query
KEYS_PER_IMAGE = 6


@dataclass(frozen=True)
class ImageInfo:
    """What reports say about a registered image: where it came from, never what it shows."""

    idx: int
    file_sha256: str
    pixel_sha256: str
    source: str
    dataset: str | None
    consent: str
    registered: str


@dataclass(frozen=True)
class Edge:
    idx: int  # the later image
    match_idx: int  # the earlier image it duplicates
    kind: str  # exact or near
    distance: int
    detail: str


def _chunks(values: Sequence[T]) -> Iterator[list[T]]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])


def _info(row: object) -> ImageInfo:
    m = row._mapping  # type: ignore[attr-defined]
    return ImageInfo(
        m["idx"], m["file_sha256"], m["pixel_sha256"], m["source"], m["dataset"],
        m["consent"], m["registered"],
    )  # fmt: skip


_INFO_COLUMNS = (
    _IMAGES.c.idx,
    _IMAGES.c.file_sha256,
    _IMAGES.c.pixel_sha256,
    _IMAGES.c.source,
    _IMAGES.c.dataset,
    _IMAGES.c.consent,
    _IMAGES.c.registered,
)


def put_grids(conn: Connection, grids: Iterable[tuple[str, bytes]]) -> None:
    """Store grids by digest; a digest already stored is left as it is."""
    wanted = dict(grids)
    if not wanted:
        return
    have: set[str] = set()
    for part in _chunks(sorted(wanted)):
        have.update(
            conn.execute(
                select(_GRIDS.c.grid_sha256).where(_GRIDS.c.grid_sha256.in_(part))
            ).scalars()
        )
    rows = [{"grid_sha256": d, "grid": g} for d, g in wanted.items() if d not in have]
    if rows:
        conn.execute(insert(_GRIDS), rows)


def descriptor_parts(
    conn: Connection, idxs: Sequence[int]
) -> dict[int, tuple[bytes, bytes | None]]:
    """image index -> (its stored keys, its grid or None when the grid is not held here)."""
    out: dict[int, tuple[bytes, bytes | None]] = {}
    for part in _chunks(sorted(set(idxs))):
        query = (
            select(_IMAGES.c.idx, _IMAGES.c.dup_keys, _GRIDS.c.grid)
            .select_from(_IMAGES.outerjoin(_GRIDS, _IMAGES.c.grid_sha256 == _GRIDS.c.grid_sha256))
            .where(_IMAGES.c.idx.in_(part), _IMAGES.c.dup_keys.is_not(None))
        )
        for idx, keys, grid in conn.execute(query):
            out[int(idx)] = (bytes(keys), None if grid is None else bytes(grid))
    return out


def keys_between(
    conn: Connection, start: int, end: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
    """Index keys of the images with ``start <= idx < end``: ids (n,), keys (n, 6)."""
    rows = conn.execute(
        select(_IMAGES.c.idx, _IMAGES.c.dup_keys)
        .where(_IMAGES.c.idx >= start, _IMAGES.c.idx < end, _IMAGES.c.dup_keys.is_not(None))
        .order_by(_IMAGES.c.idx)
    ).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    blob = b"".join(bytes(r[1]) for r in rows)
    keys = np.frombuffer(blob, dtype="<u8").astype(np.uint64).reshape(len(rows), KEYS_PER_IMAGE)
    return ids, keys


def images(conn: Connection, idxs: Iterable[int]) -> dict[int, ImageInfo]:
    out: dict[int, ImageInfo] = {}
    for part in _chunks(sorted(set(idxs))):
        for row in conn.execute(select(*_INFO_COLUMNS).where(_IMAGES.c.idx.in_(part))):
            info = _info(row)
            out[info.idx] = info
    return out


def images_between(conn: Connection, start: int, end: int) -> list[ImageInfo]:
    """The registered images with ``start <= idx < end``, in log order."""
    query = select(*_INFO_COLUMNS).where(_IMAGES.c.idx >= start, _IMAGES.c.idx < end)
    return [_info(r) for r in conn.execute(query.order_by(_IMAGES.c.idx))]


def images_with_pixels(conn: Connection, digests: Iterable[str]) -> dict[str, list[ImageInfo]]:
    """pixel_sha256 -> the registered images with those pixels, earliest first."""
    out: dict[str, list[ImageInfo]] = {}
    for part in _chunks(sorted(set(digests))):
        query = select(*_INFO_COLUMNS).where(_IMAGES.c.pixel_sha256.in_(part))
        for row in conn.execute(query.order_by(_IMAGES.c.idx)):
            info = _info(row)
            out.setdefault(info.pixel_sha256, []).append(info)
    return out


def dataset_images(conn: Connection, name: str) -> list[ImageInfo]:
    """Images registered under dataset ``name``: exactly ``NAME@V``, or every version of NAME."""
    column = _IMAGES.c.dataset
    where = (
        column == name
        if "@" in name
        else or_(column == name, column.like(_like_prefix(name), escape="\\"))
    )
    rows = conn.execute(select(*_INFO_COLUMNS).where(where).order_by(_IMAGES.c.idx))
    return [_info(r) for r in rows]


def _like_prefix(name: str) -> str:
    escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "@%"


def put_scans(conn: Connection, scans: Iterable[tuple[int, int]], edges: Iterable[Edge]) -> None:
    """Record checked images (idx, group) and their duplicate edges."""
    scan_rows = [{"idx": i, "group_idx": g} for i, g in scans]
    edge_rows = [
        {
            "idx": e.idx,
            "match_idx": e.match_idx,
            "kind": e.kind,
            "distance": e.distance,
            "detail": e.detail,
        }
        for e in edges
    ]
    if scan_rows:
        conn.execute(insert(_SCANS), scan_rows)
    if edge_rows:
        conn.execute(insert(_EDGES), edge_rows)


def groups(conn: Connection, idxs: Iterable[int]) -> dict[int, int]:
    """image index -> its duplicate group, for the scanned ones."""
    out: dict[int, int] = {}
    for part in _chunks(sorted(set(idxs))):
        rows = conn.execute(select(_SCANS.c.idx, _SCANS.c.group_idx).where(_SCANS.c.idx.in_(part)))
        out.update((int(i), int(g)) for i, g in rows)
    return out


def edges_touching(conn: Connection, idxs: Iterable[int]) -> list[Edge]:
    """Every edge with either end among ``idxs``."""
    out: dict[tuple[int, int], Edge] = {}
    for part in _chunks(sorted(set(idxs))):
        query = select(_EDGES).where(or_(_EDGES.c.idx.in_(part), _EDGES.c.match_idx.in_(part)))
        for r in conn.execute(query):
            out[(r.idx, r.match_idx)] = Edge(
                int(r.idx), int(r.match_idx), r.kind, int(r.distance), r.detail
            )
    return sorted(out.values(), key=lambda e: (e.idx, e.match_idx))


def unscanned(conn: Connection, *, limit: int) -> list[int]:
    """Registered images not yet checked against earlier ones, oldest first."""
    query = (
        select(_IMAGES.c.idx)
        .select_from(_IMAGES.outerjoin(_SCANS, _IMAGES.c.idx == _SCANS.c.idx))
        .where(_SCANS.c.idx.is_(None))
        .order_by(_IMAGES.c.idx)
        .limit(limit)
    )
    return [int(i) for i in conn.execute(query).scalars()]


def count_unscanned(conn: Connection) -> int:
    query = (
        select(func.count())
        .select_from(_IMAGES.outerjoin(_SCANS, _IMAGES.c.idx == _SCANS.c.idx))
        .where(_SCANS.c.idx.is_(None))
    )
    return int(conn.execute(query).scalar() or 0)


def clear_scans(conn: Connection) -> None:
    """Forget every recorded finding (derived data: the scan records them again)."""
    conn.execute(delete(_EDGES))
    conn.execute(delete(_SCANS))


def all_edges(conn: Connection) -> Iterator[Edge]:
    """Every recorded duplicate edge, by (idx, match_idx)."""
    query = select(_EDGES).order_by(_EDGES.c.idx, _EDGES.c.match_idx)
    for r in conn.execute(query):
        yield Edge(int(r.idx), int(r.match_idx), r.kind, int(r.distance), r.detail)


def all_scans(conn: Connection) -> Iterator[tuple[int, int]]:
    """Every scan row (idx, group_idx), by idx."""
    query = select(_SCANS.c.idx, _SCANS.c.group_idx).order_by(_SCANS.c.idx)
    result = conn.execute(query.execution_options(stream_results=True, yield_per=8192))
    for idx, group in result:
        yield int(idx), int(group)


def committed_grids(
    conn: Connection, idxs: Sequence[int]
) -> dict[int, tuple[bytes, str, bytes | None]]:
    """image index -> (its keys, the grid digest its row holds, the grid stored under that
    digest or None when it is not held here), for the images with a descriptor."""
    out: dict[int, tuple[bytes, str, bytes | None]] = {}
    for part in _chunks(sorted(set(idxs))):
        query = (
            select(_IMAGES.c.idx, _IMAGES.c.dup_keys, _IMAGES.c.grid_sha256, _GRIDS.c.grid)
            .select_from(_IMAGES.outerjoin(_GRIDS, _IMAGES.c.grid_sha256 == _GRIDS.c.grid_sha256))
            .where(_IMAGES.c.idx.in_(part), _IMAGES.c.dup_keys.is_not(None))
        )
        for idx, keys, digest, grid in conn.execute(query):
            out[int(idx)] = (bytes(keys), str(digest), None if grid is None else bytes(grid))
    return out


def leaves_at(conn: Connection, idxs: Iterable[int]) -> dict[int, tuple[bytes, bytes]]:
    """entry index -> (leaf bytes, stored leaf hash)."""
    out: dict[int, tuple[bytes, bytes]] = {}
    for part in _chunks(sorted(set(idxs))):
        query = select(_LEAVES.c.idx, _LEAVES.c.leaf, _LEAVES.c.leaf_hash)
        for idx, leaf, digest in conn.execute(query.where(_LEAVES.c.idx.in_(part))):
            out[int(idx)] = (bytes(leaf), bytes(digest))
    return out
