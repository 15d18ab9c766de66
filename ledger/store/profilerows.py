"""The rows a dataset profile reads, as plain tuples: a version's member rows and the
demographics rows of a set of commitments.

On SQLite straight from the driver (100,000 rows without a SQLAlchemy ``Row`` each); on
PostgreSQL through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, select

from ledger.store.consent import demographics_of
from ledger.store.consenttables import SubjectDemographicsRow
from ledger.store.tables import DatasetMemberRow

_MEMBERS = DatasetMemberRow.__table__  # type: ignore[attr-defined]
_DEMOGRAPHICS = SubjectDemographicsRow.__table__  # type: ignore[attr-defined]
_MEMBER_COLUMNS = ("entry", "file_sha256", "file_size", "pixel_sha256", "pixel_form",
                   "encoding", "path")
_SQLITE_MEMBERS = (f"SELECT {', '.join(_MEMBER_COLUMNS)} FROM dataset_members "  # noqa: S608 - fixed names
                   "WHERE version_idx = ? ORDER BY entry")
_SQLITE_DEMOGRAPHICS = "SELECT commitment, salt, sex, age_band FROM subject_demographics"
_SCAN_FROM = 2_000  # more commitments than this: one pass over the table


def _sqlite(conn: Connection, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Plain tuples from the sqlite3 driver, in this connection's transaction."""
    driver = conn.connection.driver_connection
    return list(driver.execute(sql, params).fetchall())  # type: ignore[union-attr]


def member_tuples(conn: Connection, version_idx: int) -> list[tuple[Any, ...]]:
    """(entry, file_sha256, file_size, pixel_sha256, pixel_form, encoding, path) of each
    member row of one version, by entry index."""
    if conn.dialect.name == "sqlite":
        return _sqlite(conn, _SQLITE_MEMBERS, (version_idx,))
    columns = [_MEMBERS.c[name] for name in _MEMBER_COLUMNS]
    query = select(*columns).where(_MEMBERS.c.version_idx == version_idx)
    return [tuple(row) for row in conn.execute(query.order_by(_MEMBERS.c.entry))]


def demographics_rows(conn: Connection, commitments: Collection[str]
                      ) -> list[tuple[Any, ...]]:  # fmt: skip
    """(commitment, salt, sex, age band) of the subject_demographics rows of ``commitments``
    (absent ones: erased)."""
    if conn.dialect.name != "sqlite" or len(commitments) <= _SCAN_FROM:
        return list(demographics_of(conn, commitments))
    wanted = commitments if isinstance(commitments, set | frozenset) else set(commitments)
    return [row for row in _sqlite(conn, _SQLITE_DEMOGRAPHICS) if row[0] in wanted]


__all__ = ["demographics_rows", "member_tuples"]
