"""Engines for SQLite (WAL, durable commits) and PostgreSQL, and the write lock.

A single sequencer per log: every append runs inside ``locked_write``, which
takes SQLite's write lock up front (BEGIN IMMEDIATE) or a PostgreSQL
transaction-scoped advisory lock, so two writers can never both read the same
tail and fork the chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from ledger.errors import StorageError
from ledger.store.url import is_sqlite, redact

_WRITE = "medledger_write"
SEQUENCER_LOCK_ID = 0x6D65646C  # "medl"


def make_engine(url: str) -> Engine:
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # each committed batch is fsynced
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA secure_delete=ON")  # erased side rows leave no bytes behind
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


@contextmanager
def locked_write(engine: Engine) -> Iterator[Connection]:
    """A transaction holding the log's single write lock; commits or rolls back whole."""
    try:
        with engine.connect().execution_options(**{_WRITE: True}) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SEQUENCER_LOCK_ID})
            yield conn
    except OperationalError as exc:
        raise StorageError(
            f"database {redact(str(engine.url))}: {exc.orig or exc}".splitlines()[0]
        ) from exc


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read transaction: one consistent snapshot of the log."""
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    except OperationalError as exc:
        raise StorageError(
            f"database {redact(str(engine.url))}: {exc.orig or exc}".splitlines()[0]
        ) from exc
