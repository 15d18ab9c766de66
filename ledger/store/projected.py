"""Projection tables as plain rows: writing a projection's changes, reading a table in
primary-key order, emptying tables for ``rebuild``. Generic over ``PROJECTION_TABLES``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from ledger.errors import StorageError
from ledger.model.projection import Change, Insert


def table_of(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def columns_of(name: str) -> tuple[str, ...]:
    return tuple(column.name for column in table_of(name).columns)


def key_of(name: str) -> tuple[str, ...]:
    return tuple(column.name for column in table_of(name).primary_key.columns)


def apply_changes(conn: Connection, changes: Sequence[Change]) -> None:
    """Apply in order; consecutive inserts into one table go as one executemany."""
    run: list[Insert] = []
    for change in changes:
        if isinstance(change, Insert):
            if run and run[-1].table != change.table:
                _insert_run(conn, run)
                run = []
            run.append(change)
            continue
        if run:
            _insert_run(conn, run)
            run = []
        table = table_of(change.table)
        where = and_(*(table.c[name] == value for name, value in change.key.items()))
        if conn.execute(update(table).where(where).values(**change.values)).rowcount != 1:
            raise StorageError(f"projection update of {change.table}: no row {change.key}")
    if run:
        _insert_run(conn, run)


def _insert_run(conn: Connection, run: list[Insert]) -> None:
    table = table_of(run[0].table)
    try:
        conn.execute(insert(table), [change.values for change in run])
    except IntegrityError as exc:
        first = run[0] if len(run) == 1 else None
        what = _describe(first) if first else f"one of {len(run)} rows"
        raise StorageError(f"append conflict: {what} is already in {table.name}") from exc


def _describe(change: Insert) -> str:
    if change.table == "images":  # the one conflict users meet: the same file, twice
        return (f"file {str(change.values.get('file_sha256'))[:16]} registered by "
                f"{change.values.get('source')}")
    keys = key_of(change.table)
    return ", ".join(f"{name}={change.values.get(name)!r}" for name in keys)


def stored_rows(conn: Connection, name: str, *, batch: int = 8192) -> Iterator[tuple[Any, ...]]:
    """Every row of a table as a tuple of its columns, in primary-key order.

    On SQLite, through the connection's own DB-API cursor (same transaction): values as
    stored, without a SQLAlchemy row object each (the audit reads every row)."""
    table = table_of(name)
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cols = ", ".join(f'"{c.name}"' for c in table.columns)
        keys = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
        cursor.execute(f'SELECT {cols} FROM "{name}" ORDER BY {keys}')  # noqa: S608 - metadata
        while part := cursor.fetchmany(batch):
            yield from part
        return
    query = select(*table.columns).order_by(*table.primary_key.columns)
    # per statement: Connection.execution_options would make every later query on this
    # connection stream through a server-side cursor
    result = conn.execute(query.execution_options(stream_results=True, yield_per=batch))
    for part in result.partitions():
        yield from (tuple(row) for row in part)


def stored_range(conn: Connection, name: str, low: int, high: int) -> list[tuple[Any, ...]]:
    """The rows of a table keyed by ``idx`` with ``low <= idx <= high``, in idx order (as
    ``stored_rows`` gives them: on SQLite, values as stored)."""
    table = table_of(name)
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cols = ", ".join(f'"{c.name}"' for c in table.columns)
        cursor.execute(f'SELECT {cols} FROM "{name}" WHERE idx BETWEEN ? AND ? ORDER BY idx',  # noqa: S608 - metadata
                       (low, high))
        rows = cast("list[tuple[Any, ...]]", cursor.fetchall())  # tuples: no row factory
        return rows
    query = select(*table.columns).where(table.c.idx.between(low, high)).order_by(table.c.idx)
    return [tuple(row) for row in conn.execute(query)]


def empty_tables(conn: Connection, names: Sequence[str]) -> None:
    """Delete every row of ``names`` (projection tables take DELETE; the log does not)."""
    for name in names:
        conn.execute(delete(table_of(name)))
