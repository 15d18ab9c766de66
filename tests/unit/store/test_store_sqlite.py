"""The store on SQLite: URLs, schema, append-only triggers, reads in chunks, the write lock."""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.errors import InputError, StorageError
from ledger.store import Store, locked_write, normalise_url, reading, sqlite_url
from ledger.store.repository import SCHEMA_VERSION
from ledger.store.tables import APPEND_ONLY_TABLES, NODE_INDEX_BITS, node_key
from ledger.store.url import redact


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = Store.create(sqlite_url(tmp_path / "ledger.db"))
    yield made
    made.engine.dispose()


def leaf_row(idx: int) -> dict[str, object]:
    leaf = f'{{"leaf":{idx}}}'.encode()
    return {"idx": idx, "leaf": leaf, "leaf_hash": hashlib.sha256(b"\x00" + leaf).digest(),
            "envelope_hash": hashlib.sha256(leaf).digest(), "kind": "test.kind",
            "actor": "ab" * 32}


def fill(store: Store, count: int) -> None:
    with locked_write(store.engine) as conn:
        store.insert_leaves(conn, [leaf_row(i) for i in range(count)])
        store.insert_nodes(conn, [(0, i, bytes([i % 256]) * 32) for i in range(count)])
        store.add_checkpoint(conn, size=count, root=b"\x00" * 32, note="n", created="t")


# --- URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normal"),
    [("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
     ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
     ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
     ("PostgreSQL://u@h/db", "postgresql+psycopg://u@h/db"),
     ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db")],
)
def test_normalise_url(url: str, normal: str) -> None:
    assert normalise_url(url) == normal


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql+psycopg2://u@h/db", "redis://h"])
def test_unknown_backend_is_named(url: str) -> None:
    scheme = re.escape(url.split(":")[0])
    with pytest.raises(InputError, match=f"unknown database backend '{scheme}'"):
        normalise_url(url)


def test_url_without_scheme() -> None:
    with pytest.raises(InputError, match="has no scheme"):
        normalise_url("/var/lib/ledger.db")


def test_redact_hides_the_password() -> None:
    assert redact("postgresql://me:s3cret@db:5432/x") == "postgresql://me:***@db:5432/x"
    assert redact("postgresql://me@db/x") == "postgresql://me@db/x"
    assert "s3cret" not in redact("postgresql+psycopg://me:s3cret@db/x")


# --- schema -----------------------------------------------------------------------------


def test_create_makes_a_wal_database(store: Store, tmp_path: Path) -> None:
    with reading(store.engine) as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL: batches fsync
        assert store.get_meta(conn, "schema_version") == SCHEMA_VERSION == "2"
        assert store.tail(conn) == (0, None)


def test_create_refuses_an_existing_ledger(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="already holds a ledger"):
        Store.create(sqlite_url(tmp_path / "ledger.db"))


def test_open_refuses_a_database_without_a_ledger(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(InputError, match="holds no medledger ledger"):
        Store.open(sqlite_url(db))


def test_open_refuses_another_schema_version(store: Store, tmp_path: Path) -> None:
    with locked_write(store.engine) as conn:
        store.set_meta(conn, "schema_version", "99")
    with pytest.raises(InputError, match="schema 99"):
        Store.open(sqlite_url(tmp_path / "ledger.db"))


def test_meta_is_updatable(store: Store) -> None:
    with locked_write(store.engine) as conn:
        store.set_meta(conn, "origin", "a")
        store.set_meta(conn, "origin", "b")
    with reading(store.engine) as conn:
        assert store.get_meta(conn, "origin") == "b"
        assert store.get_meta(conn, "missing") is None


# --- append-only ---------------------------------------------------------------------------


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = {c}", "DELETE FROM {t}"])
def test_triggers_reject_update_and_delete(
    store: Store, tmp_path: Path, table: str, statement: str
) -> None:
    fill(store, 3)
    column = {"log_leaves": "kind", "tree_nodes": "hash", "checkpoints": "note"}[table]
    sql = statement.format(t=table, c=column)
    with contextlib.closing(sqlite3.connect(tmp_path / "ledger.db")) as conn:
        before = conn.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - fixed names
        with pytest.raises(sqlite3.IntegrityError, match=f"{table} is append-only"):
            conn.execute(sql)
        conn.commit()
        assert conn.execute(f"SELECT * FROM {table}").fetchall() == before  # noqa: S608
    # The same through the store's own engine.
    with pytest.raises(Exception, match="append-only"), locked_write(store.engine) as conn:
        conn.execute(text(sql))


def test_the_projections_are_not_append_only(store: Store, tmp_path: Path) -> None:
    """keys and meta are rebuilt from the log, so they may change (revocation marks a row)."""
    with contextlib.closing(sqlite3.connect(tmp_path / "ledger.db")) as conn:
        names = {r[0] for r in conn.execute("SELECT tbl_name FROM sqlite_master "
                                            "WHERE type = 'trigger'")}
    assert names == set(APPEND_ONLY_TABLES)


# --- the log ------------------------------------------------------------------------------


def test_iter_leaves_in_chunks(store: Store) -> None:
    fill(store, 25)
    with reading(store.engine) as conn:
        rows = list(store.iter_leaves(conn, chunk=7))
        assert [r[0] for r in rows] == list(range(25))
        assert rows[3][1] == leaf_row(3)["leaf"] and rows[3][2] == leaf_row(3)["leaf_hash"]
        assert [r[0] for r in store.iter_leaves(conn, start=5, end=12, chunk=4)] == list(
            range(5, 12))
        assert list(store.iter_leaves(conn, start=25)) == []
        assert store.tail(conn) == (25, leaf_row(24)["leaf_hash"])
        assert store.count_leaves(conn) == 25


def test_existing_envelopes_across_query_chunks(store: Store) -> None:
    fill(store, 620)
    wanted = [leaf_row(i)["envelope_hash"] for i in (0, 499, 500, 619)] + [b"\x00" * 32]
    with reading(store.engine) as conn:
        assert store.existing_envelopes(conn, wanted) == {
            leaf_row(i)["envelope_hash"]: i for i in (0, 499, 500, 619)}


def test_a_second_leaf_at_an_index_is_an_append_conflict(store: Store) -> None:
    fill(store, 2)
    with pytest.raises(StorageError, match="append conflict"), \
            locked_write(store.engine) as conn:
        store.insert_leaves(conn, [{**leaf_row(1), "envelope_hash": b"\x01" * 32}])


def test_failed_write_leaves_nothing(store: Store) -> None:
    fill(store, 2)
    with pytest.raises(StorageError), locked_write(store.engine) as conn:
        store.insert_leaves(conn, [leaf_row(2)])
        store.insert_nodes(conn, [(0, 2, b"\x02" * 32)])
        store.insert_leaves(conn, [leaf_row(2)])  # conflicts: the whole transaction goes
    with reading(store.engine) as conn:
        assert store.tail(conn)[0] == 2
        with pytest.raises(StorageError):
            store.perfect_nodes(conn, [(0, 2)])


# --- the tree ---------------------------------------------------------------------------------


def test_node_keys() -> None:
    assert node_key(0, 5) == 5
    assert node_key(3, 5) == (3 << NODE_INDEX_BITS) | 5
    assert node_key(1, 0) > node_key(0, 2**NODE_INDEX_BITS - 1)


def test_perfect_nodes(store: Store) -> None:
    fill(store, 600)
    with reading(store.engine) as conn:
        coords = [(0, i) for i in range(0, 600, 1)]
        found = store.perfect_nodes(conn, coords)
        assert found[(0, 513)] == bytes([513 % 256]) * 32
        assert len(found) == 600
        with pytest.raises(StorageError, match="level 1 index 4 is missing"):
            store.perfect_nodes(conn, [(0, 1), (1, 4), (2, 9)])


def test_nodes_completed_in(store: Store) -> None:
    with locked_write(store.engine) as conn:
        store.insert_nodes(conn, [(0, 0, b"a" * 32), (0, 1, b"b" * 32), (1, 0, b"c" * 32),
                                  (0, 2, b"d" * 32)])
    with reading(store.engine) as conn:
        assert store.nodes_completed_in(conn, start=1, end=3) == {
            (0, 1): b"b" * 32, (0, 2): b"d" * 32, (1, 0): b"c" * 32}


def test_checkpoints_in_order(store: Store) -> None:
    with locked_write(store.engine) as conn:
        for size in (1, 2, 3):
            store.add_checkpoint(conn, size=size, root=bytes([size]) * 32, note=f"n{size}",
                                 created="t")
    with reading(store.engine) as conn:
        assert [c.size for c in store.checkpoints(conn)] == [1, 2, 3]
        latest = store.latest_checkpoint(conn)
        assert latest is not None and (latest.size, latest.note) == (3, "n3")
