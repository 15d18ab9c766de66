"""The store: the one object that reads and writes the database.

It knows tables and SQL, not hashing or signatures; the sequencer and the
service compose it with ``ledger.log`` and ``ledger.crypto``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, inspect, select, update
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlmodel import SQLModel

from ledger.errors import InputError, StorageError
from ledger.model.projection import Change
from ledger.store import triggers
from ledger.store.engine import make_engine
from ledger.store.projected import apply_changes
from ledger.store.tables import (
    NODE_INDEX_BITS,
    CheckpointRow,
    ImageRow,
    KeyRow,
    LogLeaf,
    Meta,
    TreeNode,
    node_key,
)
from ledger.store.url import is_sqlite, normalise_url, redact, sqlite_path

SCHEMA_VERSION = "2"  # 2: near-duplicate keys, grids, scans and edges
_LEAVES = LogLeaf.__table__  # type: ignore[attr-defined]
_NODES = TreeNode.__table__  # type: ignore[attr-defined]
_CHECKPOINTS = CheckpointRow.__table__  # type: ignore[attr-defined]
_KEYS = KeyRow.__table__  # type: ignore[attr-defined]
_META = Meta.__table__  # type: ignore[attr-defined]
_IMAGES = ImageRow.__table__  # type: ignore[attr-defined]


# SQLite fast paths: the same INSERTs as the SQLAlchemy statements, sent as plain
# tuples straight to the driver's executemany. SQLAlchemy's per-row parameter
# processing costs more than SQLite's own insert (an append stores ~10,000 leaves
# and ~20,000 tree nodes a second). Only rows whose blob columns are bytes take it.
_LEAF_COLUMNS = ("idx", "leaf", "leaf_hash", "envelope_hash", "kind", "actor")
_SQLITE_INSERT_LEAVES = (
    "INSERT INTO log_leaves (idx, leaf, leaf_hash, envelope_hash, kind, actor) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_SQLITE_INSERT_NODES = 'INSERT INTO tree_nodes ("key", hash) VALUES (?, ?)'


def _sqlite_leaves(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> bool:
    """Insert leaf ``rows`` through the SQLite fast path; False when it does not apply."""
    if conn.dialect.name != "sqlite" or not rows:
        return False
    try:
        tuples = [tuple([row[c] for c in _LEAF_COLUMNS]) for row in rows]
    except KeyError:
        return False
    if any(len(row) != len(_LEAF_COLUMNS) for row in rows) or not all(
        type(t[1]) is bytes and type(t[2]) is bytes and type(t[3]) is bytes for t in tuples
    ):
        return False
    conn.exec_driver_sql(_SQLITE_INSERT_LEAVES, tuples)
    return True


_SQLITE_NODES_IN = 'SELECT "key", hash FROM tree_nodes WHERE "key" >= ? AND "key" < ?'
_SQLITE_LEAVES_FROM = (
    "SELECT idx, leaf, leaf_hash, kind, actor FROM log_leaves WHERE idx >= ? ORDER BY idx LIMIT ?"
)
# Rows in [?, ?] whose columns do not have their declared types (only a tampered
# database has any): those go through the same conversions as the generic path.
_SQLITE_ODD_LEAVES = (
    "SELECT count(*) FROM log_leaves WHERE idx >= ? AND idx <= ? AND ("
    "typeof(leaf) != 'blob' OR typeof(leaf_hash) != 'blob' OR typeof(kind) != 'text' "
    "OR typeof(actor) != 'text')"
)
_SQLITE_LEAVES_RANGE = (
    "SELECT idx, leaf, leaf_hash, kind, actor FROM log_leaves WHERE idx >= ? AND idx < ? "
    "ORDER BY idx LIMIT ?"
)


def _sqlite_envelopes_among(count: int) -> str:
    marks = ", ".join("?" * count)
    return f"SELECT envelope_hash, idx FROM log_leaves WHERE envelope_hash IN ({marks})"  # noqa: S608


def _sqlite_nodes_among(count: int) -> str:
    marks = ", ".join("?" * count)
    return f'SELECT "key", hash FROM tree_nodes WHERE "key" IN ({marks})'  # noqa: S608 - only "?"


def _sqlite_cursor(conn: Connection) -> Any:
    """A DB-API cursor on the connection's own SQLite transaction, or None elsewhere.

    Reads of the whole log (an audit reads ~1M leaves and ~2M tree nodes) go
    through it: the same SELECTs as the SQLAlchemy ones, without building a
    result row object per row.
    """
    if conn.dialect.name != "sqlite":
        return None
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _sqlite_iter_leaves(
    conn: Connection, *, start: int, end: int | None, chunk: int
) -> Iterator[tuple[int, bytes, bytes, str, str]]:
    """``Store.iter_leaves`` on SQLite: plain rows, converted only when a column has an
    unexpected type (a tampered row), exactly as the generic path converts them."""
    cursor_db = _sqlite_cursor(conn)
    cursor = start
    while end is None or cursor < end:
        if end is None:
            rows = cursor_db.execute(_SQLITE_LEAVES_FROM, (cursor, chunk)).fetchall()
        else:
            rows = cursor_db.execute(_SQLITE_LEAVES_RANGE, (cursor, end, chunk)).fetchall()
        if not rows:
            return
        odd = cursor_db.execute(_SQLITE_ODD_LEAVES, (cursor, rows[-1][0])).fetchone()[0]
        if not odd:  # every column has its type: the rows are already what we yield
            yield from rows
        else:
            for idx, leaf, digest, kind, actor in rows:
                yield idx, _raw(leaf), _raw(digest), str(kind), str(actor)
        cursor = rows[-1][0] + 1


def _raw(value: Any) -> bytes:
    """Column value as bytes, whatever type a tampered row holds."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if value is None:
        return b""
    return bytes(value)


def _first_line(exc: DatabaseError) -> str:
    return str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else "error"


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def create(cls, url: str) -> Store:
        """Create the tables and triggers of a new ledger database."""
        engine = make_engine(normalise_url(url))
        try:
            if inspect(engine).has_table("meta"):
                raise InputError(f"database {redact(url)} already holds a ledger")
            with engine.begin() as conn:
                SQLModel.metadata.create_all(conn)
                triggers.install(conn)
                conn.execute(insert(_META).values(key="schema_version", value=SCHEMA_VERSION))
        except DatabaseError as exc:
            engine.dispose()
            raise StorageError(f"database {redact(url)}: {_first_line(exc)}") from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @classmethod
    def open(cls, url: str) -> Store:
        normalised = normalise_url(url)
        if is_sqlite(normalised):
            path = sqlite_path(normalised)
            if path is not None and not path.is_file():  # sqlite3 would create an empty one
                raise InputError(f"database {path} does not exist")
        engine = make_engine(normalised)
        try:
            with engine.connect() as conn:
                version = conn.execute(
                    select(_META.c.value).where(_META.c.key == "schema_version")
                ).scalar()
        except DatabaseError as exc:
            engine.dispose()
            raise InputError(f"database {redact(url)} holds no medledger ledger") from exc
        if version != SCHEMA_VERSION:
            engine.dispose()
            raise InputError(f"database {redact(url)} has schema {version}, need {SCHEMA_VERSION}")
        _add_missing_tables(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # meta
    def get_meta(self, conn: Connection, key: str) -> str | None:
        return conn.execute(select(_META.c.value).where(_META.c.key == key)).scalar()

    def set_meta(self, conn: Connection, key: str, value: str) -> None:
        if self.get_meta(conn, key) is None:
            conn.execute(insert(_META).values(key=key, value=value))
        else:
            conn.execute(update(_META).where(_META.c.key == key).values(value=value))

    # the log
    def tail(self, conn: Connection) -> tuple[int, bytes | None]:
        """(tree size, hash of the last leaf or None when empty)."""
        row = conn.execute(
            select(_LEAVES.c.idx, _LEAVES.c.leaf_hash).order_by(_LEAVES.c.idx.desc()).limit(1)
        ).first()
        return (0, None) if row is None else (row.idx + 1, bytes(row.leaf_hash))

    def count_leaves(self, conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(_LEAVES)).scalar_one())

    def existing_envelopes(self, conn: Connection, hashes: Sequence[bytes]) -> dict[bytes, int]:
        found: dict[bytes, int] = {}
        cursor = _sqlite_cursor(conn)
        for start in range(0, len(hashes), 500):
            chunk = list(hashes[start : start + 500])
            if cursor is not None and all(type(h) is bytes for h in chunk):
                pairs = cursor.execute(_sqlite_envelopes_among(len(chunk)), chunk).fetchall()
                found.update((bytes(h), i) for h, i in pairs)
                continue
            rows = conn.execute(
                select(_LEAVES.c.envelope_hash, _LEAVES.c.idx).where(
                    _LEAVES.c.envelope_hash.in_(chunk)
                )
            )
            found.update((bytes(r.envelope_hash), r.idx) for r in rows)
        return found

    def insert_leaves(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        try:
            if not _sqlite_leaves(conn, rows):
                conn.execute(insert(_LEAVES), list(rows))
        except IntegrityError as exc:
            raise StorageError(f"append conflict: {exc.orig}".splitlines()[0]) from exc

    def iter_leaves(
        self, conn: Connection, *, start: int = 0, end: int | None = None, chunk: int = 20000
    ) -> Iterator[tuple[int, bytes, bytes, str, str]]:
        """(idx, leaf bytes, stored leaf hash, kind, actor) in index order, read in chunks."""
        if conn.dialect.name == "sqlite":
            yield from _sqlite_iter_leaves(conn, start=start, end=end, chunk=chunk)
            return
        cursor = start
        cols = (_LEAVES.c.idx, _LEAVES.c.leaf, _LEAVES.c.leaf_hash, _LEAVES.c.kind, _LEAVES.c.actor)
        while end is None or cursor < end:
            query = select(*cols).where(_LEAVES.c.idx >= cursor)
            if end is not None:
                query = query.where(_LEAVES.c.idx < end)
            rows = conn.execute(query.order_by(_LEAVES.c.idx).limit(chunk)).all()
            if not rows:
                return
            for row in rows:
                yield row.idx, _raw(row.leaf), _raw(row.leaf_hash), str(row.kind), str(row.actor)
            cursor = rows[-1].idx + 1

    def leaves_of_kinds(
        self, conn: Connection, kinds: Iterable[str], *, end: int | None = None
    ) -> list[tuple[int, bytes]]:
        query = select(_LEAVES.c.idx, _LEAVES.c.leaf).where(_LEAVES.c.kind.in_(list(kinds)))
        if end is not None:
            query = query.where(_LEAVES.c.idx < end)
        return [(r.idx, _raw(r.leaf)) for r in conn.execute(query.order_by(_LEAVES.c.idx))]

    # the tree
    def insert_nodes(self, conn: Connection, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        tuples = [((level << NODE_INDEX_BITS) | index, h) for level, index, h in nodes]  # node_key
        if conn.dialect.name == "sqlite" and tuples and all(type(h) is bytes for _, h in tuples):
            conn.exec_driver_sql(_SQLITE_INSERT_NODES, tuples)
            return
        rows = [{"key": key, "hash": h} for key, h in tuples]
        if rows:
            conn.execute(insert(_NODES), rows)

    def perfect_nodes(
        self, conn: Connection, coords: Iterable[tuple[int, int]]
    ) -> dict[tuple[int, int], bytes]:
        wanted = {node_key(level, index): (level, index) for level, index in coords}
        found: dict[tuple[int, int], bytes] = {}
        keys = list(wanted)
        cursor = _sqlite_cursor(conn)
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            if cursor is not None:
                pairs = cursor.execute(_sqlite_nodes_among(len(part)), part).fetchall()
            else:
                query = select(_NODES.c.key, _NODES.c.hash).where(_NODES.c.key.in_(part))
                pairs = [(r.key, r.hash) for r in conn.execute(query)]
            found.update((wanted[k], bytes(h)) for k, h in pairs)
        missing = set(wanted.values()) - set(found)
        if missing:
            level, index = min(missing)
            raise StorageError(f"tree node level {level} index {index} is missing from the store")
        return found

    def nodes_completed_in(
        self, conn: Connection, *, start: int, end: int
    ) -> dict[tuple[int, int], bytes]:
        """Stored perfect nodes whose last leaf lies in [start, end), every level."""
        found: dict[tuple[int, int], bytes] = {}
        level = 0
        mask = (1 << NODE_INDEX_BITS) - 1
        cursor = _sqlite_cursor(conn)
        while (end >> level) > (start >> level):
            low, high = node_key(level, start >> level), node_key(level, end >> level)
            if cursor is not None:
                pairs = cursor.execute(_SQLITE_NODES_IN, (low, high)).fetchall()
                found.update(
                    ((level, k & mask), h if type(h) is bytes else _raw(h)) for k, h in pairs
                )
                level += 1
                continue
            rows = conn.execute(
                select(_NODES.c.key, _NODES.c.hash).where(_NODES.c.key >= low, _NODES.c.key < high)
            )
            found.update(((level, r.key & mask), _raw(r.hash)) for r in rows)
            level += 1
        return found

    # checkpoints
    def add_checkpoint(
        self, conn: Connection, *, size: int, root: bytes, note: str, created: str
    ) -> None:
        conn.execute(insert(_CHECKPOINTS).values(size=size, root=root, note=note, created=created))

    def checkpoints(self, conn: Connection) -> list[CheckpointRow]:
        rows = conn.execute(select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.id))
        return [CheckpointRow.model_validate(r._mapping) for r in rows]

    def latest_checkpoint(self, conn: Connection) -> CheckpointRow | None:
        row = conn.execute(select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.id.desc()).limit(1)).first()
        return None if row is None else CheckpointRow.model_validate(row._mapping)

    # keys (a projection of the log)
    def keys(self, conn: Connection) -> list[KeyRow]:
        rows = conn.execute(select(_KEYS).order_by(_KEYS.c.added_idx))
        return [KeyRow.model_validate(r._mapping) for r in rows]

    def apply_changes(self, conn: Connection, changes: Sequence[Change]) -> None:
        """Write a projection's row changes (``ledger.store.projected``)."""
        apply_changes(conn, changes)

    # images (a projection of image.registered)

    def known_images(
        self, conn: Connection, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """(file_sha256, source) -> entry index, for the pairs already registered."""
        found: dict[tuple[str, str], int] = {}
        digests = sorted({digest for digest, _ in pairs})
        for start in range(0, len(digests), 500):
            rows = conn.execute(
                select(_IMAGES.c.file_sha256, _IMAGES.c.source, _IMAGES.c.idx).where(
                    _IMAGES.c.file_sha256.in_(digests[start : start + 500])
                )
            )
            found.update(((r.file_sha256, r.source), r.idx) for r in rows)
        wanted = set(pairs)
        return {pair: idx for pair, idx in found.items() if pair in wanted}

    def images_by_digest(self, conn: Connection, digest: str) -> list[ImageRow]:
        query = select(_IMAGES).where(
            (_IMAGES.c.file_sha256 == digest) | (_IMAGES.c.pixel_sha256 == digest)
        )
        rows = conn.execute(query.order_by(_IMAGES.c.idx))
        return [ImageRow.model_validate(r._mapping) for r in rows]

    def leaf(self, conn: Connection, index: int) -> tuple[bytes, bytes]:
        """(leaf bytes, leaf hash) of one entry."""
        for _, leaf, digest, _, _ in self.iter_leaves(conn, start=index, end=index + 1):
            return leaf, digest
        raise InputError(f"no entry at index {index}")

def _add_missing_tables(engine: Engine) -> None:
    """Projection tables added since the ledger was made (sources, policies, ...) start empty:
    their kinds did not exist before, so the log implies no rows for them."""
    names = set(inspect(engine).get_table_names())
    missing = [t for name, t in SQLModel.metadata.tables.items() if name not in names]
    if missing:
        with engine.begin() as conn:
            SQLModel.metadata.create_all(conn, tables=missing)
