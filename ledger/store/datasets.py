"""Queries behind dataset versions: the versions projection, the member side table, and the
image rows and leaves a new version is built from.

Functions over an open connection, so a version's member rows are written in the
transaction that appends its entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from ledger.store.tables import DatasetMemberRow, DatasetVersionRow, ImageRow, LogLeaf

_VERSIONS = DatasetVersionRow.__table__  # type: ignore[attr-defined]
_MEMBERS = DatasetMemberRow.__table__  # type: ignore[attr-defined]
_IMAGES = ImageRow.__table__  # type: ignore[attr-defined]
_LEAVES = LogLeaf.__table__  # type: ignore[attr-defined]
_CHUNK = 500  # bound parameters per IN list
_SCAN_FROM = 2_000  # more values than this: scan instead of IN lists


def _raw(value: Any) -> bytes:
    return bytes(value) if isinstance(value, memoryview) else value


def _sqlite_rows(conn: Connection, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Plain tuples from the sqlite3 driver, in this connection's transaction: 100,000 rows
    without a SQLAlchemy Row each."""
    return list(conn.connection.driver_connection.execute(sql, params).fetchall())  # type: ignore[union-attr]


def versions_of(conn: Connection, name: str) -> list[DatasetVersionRow]:
    """The versions of ``name`` in log order (the projection: only says where to look)."""
    rows = conn.execute(select(_VERSIONS).where(_VERSIONS.c.name == name).order_by(_VERSIONS.c.idx))
    return [DatasetVersionRow.model_validate(r._mapping) for r in rows]


def all_versions(conn: Connection) -> list[DatasetVersionRow]:
    rows = conn.execute(select(_VERSIONS).order_by(_VERSIONS.c.idx))
    return [DatasetVersionRow.model_validate(r._mapping) for r in rows]


_SQLITE_INSERT = (
    "INSERT INTO dataset_members (version_idx, entry, file_sha256, file_size, pixel_sha256, "
    "pixel_form, encoding, path) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert_members(conn: Connection, version_idx: int, records: Sequence[dict[str, Any]]) -> None:
    """The member rows of the version at ``version_idx`` (records as ``MemberRecord``s dump)."""
    if not records:
        return
    if conn.dialect.name == "sqlite":  # plain tuples to the driver: 100,000 rows in a second
        conn.exec_driver_sql(_SQLITE_INSERT, [
            (version_idx, r["entry"], r["file_sha256"], r["file_size"], r["pixel_sha256"],
             r["pixel_form"], r["encoding"], r.get("path")) for r in records])  # fmt: skip
        return
    rows = [{"version_idx": version_idx, "path": None, **r} for r in records]
    for start in range(0, len(rows), 10_000):
        conn.execute(insert(_MEMBERS), rows[start : start + 10_000])


_SQLITE_RANGE = "SELECT idx, leaf, leaf_hash FROM log_leaves WHERE idx BETWEEN ? AND ? ORDER BY idx"
_SQLITE_MEMBERS = (
    "SELECT entry, file_sha256, file_size, pixel_sha256, pixel_form, encoding, path "
    "FROM dataset_members WHERE version_idx = ? ORDER BY entry"
)
_MEMBER_KEYS = ("entry", "file_sha256", "file_size", "pixel_sha256", "pixel_form", "encoding",
                "path")


def member_rows(conn: Connection, version_idx: int) -> list[dict[str, Any]]:
    """The stored member rows of one version, by entry index (``version_idx`` dropped)."""
    if conn.dialect.name == "sqlite":
        rows = _sqlite_rows(conn, _SQLITE_MEMBERS, (version_idx,))
        return [dict(zip(_MEMBER_KEYS, row, strict=True)) for row in rows]
    query = select(_MEMBERS).where(_MEMBERS.c.version_idx == version_idx)
    out = []
    for row in conn.execute(query.order_by(_MEMBERS.c.entry)):
        values = dict(row._mapping)
        del values["version_idx"]
        out.append(values)
    return out


def versions_with_members(conn: Connection) -> set[int]:
    """Entry indexes of the versions that have member rows stored."""
    return {int(v) for v in conn.execute(select(_MEMBERS.c.version_idx).distinct()).scalars()}


def purge_members(conn: Connection, version_idx: int) -> int:
    """Delete a version's member list (the entry keeps its root); returns the rows deleted."""
    return conn.execute(delete(_MEMBERS).where(_MEMBERS.c.version_idx == version_idx)).rowcount


def images_by_file_digests(conn: Connection, digests: Iterable[str]) -> dict[str, list[int]]:
    """file_sha256 -> the entry indexes registering it (every source), for the given digests."""
    found: dict[str, list[int]] = {}
    wanted = sorted(set(digests))
    if len(wanted) > _SCAN_FROM:  # one pass over the table beats thousands of IN lists
        keep = set(wanted)
        scan = "SELECT file_sha256, idx FROM images ORDER BY idx"
        rows = (_sqlite_rows(conn, scan) if conn.dialect.name == "sqlite"
                else conn.exec_driver_sql(scan).fetchall())
        for digest, idx in rows:
            if digest in keep:
                found.setdefault(str(digest), []).append(int(idx))
        return found
    for start in range(0, len(wanted), _CHUNK):
        query = select(_IMAGES.c.file_sha256, _IMAGES.c.idx).where(
            _IMAGES.c.file_sha256.in_(wanted[start : start + _CHUNK])
        )
        for digest, idx in conn.execute(query.order_by(_IMAGES.c.idx)):
            found.setdefault(str(digest), []).append(int(idx))
    return found


def leaves_at(conn: Connection, indexes: Iterable[int]) -> Iterator[tuple[int, bytes, bytes]]:
    """(index, leaf bytes, stored leaf hash) for the given entry indexes, in index order."""
    wanted = sorted(set(indexes))
    if len(wanted) > _SCAN_FROM and wanted[-1] - wanted[0] < 4 * len(wanted):  # dense: a range
        keep = set(wanted)
        if conn.dialect.name == "sqlite":  # plain tuples from the driver: 100,000 in a blink
            rows = _sqlite_rows(conn, _SQLITE_RANGE, (wanted[0], wanted[-1]))
            yield from ((idx, leaf, digest) for idx, leaf, digest in rows if idx in keep)
            return
        query = select(_LEAVES.c.idx, _LEAVES.c.leaf, _LEAVES.c.leaf_hash).where(
            _LEAVES.c.idx.between(wanted[0], wanted[-1]))
        for idx, leaf, digest in conn.execute(query.order_by(_LEAVES.c.idx)):
            if idx in keep:
                yield int(idx), _raw(leaf), _raw(digest)
        return
    for start in range(0, len(wanted), _CHUNK):
        query = select(_LEAVES.c.idx, _LEAVES.c.leaf, _LEAVES.c.leaf_hash).where(
            _LEAVES.c.idx.in_(wanted[start : start + _CHUNK])
        )
        for idx, leaf, digest in conn.execute(query.order_by(_LEAVES.c.idx)):
            yield int(idx), _raw(leaf), _raw(digest)


__all__ = ["all_versions", "images_by_file_digests", "insert_members", "leaves_at",
           "member_rows", "purge_members", "versions_of", "versions_with_members"]
