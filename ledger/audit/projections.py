"""The projection audit: every projection table rebuilt from the log and compared.

Workers that already check a chunk of leaves also compute that chunk's row changes
(``project_rows``: the registered projections, applied to the parsed entries). The
main process applies them, chunk by chunk and in index order, to a scratch SQLite
file, copies the stored tables beside them, and lets SQLite join the two on the
primary key: a few C-speed passes instead of a Python comparison per row. Only a
row that differs comes back to Python, to be named by table, entry and column.

Nothing here knows a table: the shapes (columns, primary key) and the stored rows
are passed in, so a table added to ``PROJECTION_TABLES`` is audited for free.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from ledger.errors import VerificationError
from ledger.model.projection import Insert, Projections, Update

# (stored idx, leaf bytes, stored leaf hash, stored kind, stored actor)
Row = tuple[int, bytes, bytes, str, str]
StoredRows = Callable[[str], Iterable[tuple[Any, ...]]]
_SHOWN = 60  # characters of a value in a message


@dataclass(frozen=True)
class TableShape:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]


@dataclass(frozen=True)
class Difference:
    table: str
    index: int | None  # the entry behind the row (None: a stored row with no entry)
    text: str  # what differs, after "<table>: "


class Failure(NamedTuple):
    """A valid leaf whose projection raised: a bug or a kind the projection does not know."""

    entry: int
    text: str


class _UnorderedError(Exception):
    """Stored rows whose key order Python cannot follow: compare by copy and join."""


_MERGE_LIMIT = 200  # differences collected per table; the first by entry is named


@dataclass(frozen=True)
class Plan:
    """What a worker needs to project a chunk: the projections, and each table's columns
    (so that it sends rows back as plain tuples, cheap to pickle and to insert)."""

    projections: Projections
    columns: Mapping[str, tuple[str, ...]]


class RowUpdate(NamedTuple):
    entry: int
    update: Update


# A new row: (table, (*values in column order, entry index)); or an update.
Projected = list[tuple[str, tuple[Any, ...]] | RowUpdate]


def project_rows(rows: Sequence[Row], plan: Plan) -> Projected | Failure:
    """The row changes of a chunk of leaves, or the first error (the replay names a
    malformed leaf first; a projection error on a valid leaf is reported after it)."""
    out: Projected = []
    loads, projections, columns = json.loads, plan.projections, plan.columns
    for idx, leaf, _hash, kind, _actor in rows:
        projection = projections.get(kind)  # the stored kind; the replay checks it
        if projection is None:
            continue
        try:
            made = projection(idx, _entry_of(leaf, loads))
        except Exception as exc:
            return Failure(idx, f"its projection fails ({type(exc).__name__}: {exc})")
        for change in made:
            names = columns.get(change.table)
            if names is None:
                return Failure(idx, f"its projection writes {change.table}, which is not a "
                                    "projection table")
            if isinstance(change, Insert):
                values = change.values
                out.append((change.table, (*[values.get(c) for c in names], idx)))
            else:
                out.append(RowUpdate(idx, change))
    return out


_ENTRY_START = b'{"envelope":{"entry":'
_SIG_MARK = b',"sig":"'


def _entry_of(leaf: bytes, loads: Callable[[bytes], Any]) -> Any:
    """The entry of a canonical leaf ``{"envelope":{"entry":E,"sig":"S"},"prev":"P"}``,
    parsing E alone (half the bytes: the signature and ``prev`` are not needed here).
    The envelope's ``,"sig":"`` is the last one: inside E a quote is escaped or a key's.
    Any other shape is parsed whole (the replay judges its form)."""
    end = leaf.rfind(_SIG_MARK)
    if leaf.startswith(_ENTRY_START) and end > len(_ENTRY_START):
        try:
            return loads(leaf[len(_ENTRY_START) : end])
        except ValueError:
            pass
    return loads(leaf)["envelope"]["entry"]


class ProjectionAudit:
    """Collects the log's row changes, then compares with the stored tables (``compare``)."""

    def __init__(self, shapes: Sequence[TableShape], projections: Projections) -> None:
        self.shapes = {shape.name: shape for shape in shapes}
        self.plan = Plan(projections, {shape.name: shape.columns for shape in shapes})
        self.rows = 0
        self._error: tuple[int, str, str | None] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="medledger-audit-")
        self._db = sqlite3.connect(Path(self._dir.name) / "expected.db", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("BEGIN")
        for shape in shapes:
            for prefix, extra in (("e_", ", _entry"), ("s_", "")):
                cols = ", ".join(f'"{c}"' for c in shape.columns)
                key = ", ".join(f'"{c}"' for c in shape.key)
                self._db.execute(f"CREATE TABLE {prefix}{shape.name} ({cols}{extra}, "
                                 f"PRIMARY KEY ({key})) WITHOUT ROWID")

    def __enter__(self) -> ProjectionAudit:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()

    # --- the log's side ----------------------------------------------------------------

    def add(self, changes: Projected | Failure) -> None:
        """One chunk's changes (``project_rows``), in index order.

        A problem is kept for ``compare``, which runs after the replay: an error the replay
        finds at an earlier index (a deleted entry, say) must win."""
        if self._error is not None:
            return
        if isinstance(changes, Failure):
            self._error = (changes.entry, changes.text, None)
            return
        try:
            self._apply(changes)
        except VerificationError as exc:
            self._error = (exc.index or 0, exc.message, exc.subject)

    def _apply(self, changes: Projected) -> None:
        run: list[tuple[Any, ...]] = []
        run_table = ""
        for item in changes:
            if isinstance(item, RowUpdate):
                self._flush(run_table, run)
                run, run_table = [], ""
                change = item.update
                self._update(item.entry, change.table, change.key, change.values)
                continue
            table, values = item
            if table != run_table:
                self._flush(run_table, run)
                run, run_table = [], table
            run.append(values)
        self._flush(run_table, run)

    def _flush(self, table: str, run: list[tuple[Any, ...]]) -> None:
        if not run:
            return
        shape = self.shapes[table]
        marks = ", ".join("?" * (len(shape.columns) + 1))
        try:
            self._db.executemany(f"INSERT INTO e_{table} VALUES ({marks})", run)  # noqa: S608 - names from the table metadata
        except sqlite3.IntegrityError:
            for values in run:  # find the entry whose row collides
                try:
                    self._db.execute(f"INSERT INTO e_{table} VALUES ({marks})", values)  # noqa: S608
                except sqlite3.IntegrityError:
                    raise VerificationError(
                        f"entry {values[-1]} projects a row that an earlier entry already "
                        "made (the log contradicts itself)", subject=table, index=values[-1]
                    ) from None
        self.rows += len(run)

    def _update(self, idx: int, table: str, key: dict[str, Any], values: dict[str, Any]) -> None:
        sets = ", ".join(f'"{c}" = ?' for c in values)
        where = " AND ".join(f'"{c}" = ?' for c in key)
        statement = f"UPDATE e_{table} SET {sets}, _entry = ? WHERE {where}"  # noqa: S608 - names from the table metadata
        done = self._db.execute(statement, (*values.values(), idx, *key.values()))
        if done.rowcount != 1:
            raise VerificationError(f"entry {idx} updates a row no entry made ({key})",
                                    subject=table, index=idx)

    # --- the comparison ----------------------------------------------------------------

    def compare(self, stored: StoredRows, *, sqlite_order: bool = False) -> None:
        """Raise VerificationError naming the first difference (by entry index).

        ``sqlite_order``: the stored rows come in SQLite's primary-key order (a SQLite
        ledger), so they are merged with the expected rows as they stream, without being
        copied; any doubt about the order falls back to the copy and the join."""
        if self._error is not None:
            index, text, subject = self._error
            raise VerificationError(text, subject=subject, index=index)
        differences: list[Difference] = []
        for shape in self.shapes.values():
            if sqlite_order:
                try:
                    differences.extend(self._merged(shape, stored(shape.name)))
                    continue
                except _UnorderedError:
                    pass
            self._copy_stored(shape, stored(shape.name))
            differences.extend(self._differences(shape))
        if not differences:
            return
        differences.sort(key=lambda d: (d.index is None, d.index or 0, d.table))
        first = differences[0]
        more = f" ({len(differences)} differences in all)" if len(differences) > 1 else ""
        raise VerificationError(first.text + more, subject=first.table, index=first.index)

    def _merged(self, shape: TableShape, rows: Iterable[tuple[Any, ...]]) -> list[Difference]:
        """Both sides in primary-key order, compared as they stream (SQLite on both sides:
        its BINARY order of UTF-8 text is Python's order of ``str``; mixed types raise)."""
        name = shape.name
        at = [shape.columns.index(c) for c in shape.key]
        cols = ", ".join(f'"{c}"' for c in shape.columns)
        keys = ", ".join(f'"{c}"' for c in shape.key)
        log_rows = iter(self._db.execute(f"SELECT {cols}, _entry FROM e_{name} ORDER BY {keys}"))  # noqa: S608 - names from the table metadata
        stored_rows = iter(rows)
        found: list[Difference] = []
        want, got = next(log_rows, None), next(stored_rows, None)
        last: tuple[Any, ...] | None = None
        try:
            while (want is not None or got is not None) and len(found) < _MERGE_LIMIT:
                want_key = None if want is None else tuple(want[i] for i in at)
                got_key = None if got is None else tuple(got[i] for i in at)
                if got_key is not None:
                    if last is not None and not last < got_key:
                        raise _UnorderedError
                if want is not None and (got_key is None or want_key < got_key):  # type: ignore[operator]
                    found.append(_describe(shape, want[-1], want[:-1], None))
                    want = next(log_rows, None)
                    continue
                if got is None:  # not reached: a missing row was handled above
                    break
                last = got_key
                if want is None or got_key < want_key:  # type: ignore[operator]
                    text = f"stored row {_key_text(shape, got)} has no entry behind it"
                    found.append(Difference(name, None, text))
                elif want[:-1] != tuple(got):
                    found.append(_describe(shape, want[-1], want[:-1], tuple(got)))
                if want is not None and want_key == got_key:
                    want = next(log_rows, None)
                got = next(stored_rows, None)
        except TypeError as exc:  # keys of mixed types: SQLite's order is not Python's
            raise _UnorderedError from exc
        return found

    def _copy_stored(self, shape: TableShape, rows: Iterable[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(shape.columns))
        statement = f"INSERT INTO s_{shape.name} VALUES ({marks})"  # noqa: S608 - names from the table metadata
        iterator = iter(rows)
        while batch := list(islice(iterator, 8192)):
            self._db.executemany(statement, batch)

    def _differences(self, shape: TableShape) -> list[Difference]:
        name = shape.name
        on = " AND ".join(f'e."{c}" = s."{c}"' for c in shape.key)
        differs = " OR ".join(f'e."{c}" IS NOT s."{c}"' for c in shape.columns)
        cols = ", ".join(f'"{c}"' for c in shape.columns)
        ecols = ", ".join(f'e."{c}"' for c in shape.columns)
        scols = ", ".join(f's."{c}"' for c in shape.columns)
        found: list[Difference] = []
        changed = self._db.execute(
            f"SELECT e._entry, {ecols}, s.\"{shape.key[0]}\" IS NULL, {scols} "  # noqa: S608 - names from the table metadata
            f"FROM e_{name} e LEFT JOIN s_{name} s ON {on} WHERE {differs} "
            "ORDER BY e._entry LIMIT 100")
        width = len(shape.columns)
        for row in changed:
            entry, log_row = row[0], row[1 : 1 + width]
            missing, stored_row = row[1 + width], row[2 + width :]
            found.append(_describe(shape, entry, log_row, None if missing else stored_row))
        extra = self._db.execute(
            f"SELECT {cols} FROM s_{name} s WHERE NOT EXISTS "  # noqa: S608 - names from the table metadata
            f"(SELECT 1 FROM e_{name} e WHERE {on}) LIMIT 100")
        for stored_row in extra:
            key = _key_text(shape, stored_row)
            found.append(Difference(name, None, f"stored row {key} has no entry behind it"))
        return found


def _describe(shape: TableShape, entry: int, log_row: tuple[Any, ...],
              stored_row: tuple[Any, ...] | None) -> Difference:
    name = shape.name
    if stored_row is None:
        key = _key_text(shape, log_row)
        return Difference(name, entry, f"entry {entry}: the row {key} the log implies is missing")
    for column, want, got in zip(shape.columns, log_row, stored_row, strict=True):
        if want != got or type(want) is not type(got):
            return Difference(name, entry, f"entry {entry}, column {column}: stored "
                                           f"{_shown(got)}, the log says {_shown(want)}")
    return Difference(name, entry, f"entry {entry}: the stored row differs")


def _key_text(shape: TableShape, row: tuple[Any, ...]) -> str:
    values = dict(zip(shape.columns, row, strict=True))
    return ", ".join(f"{c}={_shown(values[c])}" for c in shape.key)


def _shown(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.hex()
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
