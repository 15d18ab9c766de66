"""The projection audit: every projection table rebuilt from the log and compared.

Workers that already check a chunk of leaves also compute that chunk's row changes
(``project_rows``: the registered projections, applied to the parsed entries; those the
fast path parsed for its checks when it settles the chunk, so no leaf is parsed twice). The
main process compares them chunk by chunk, in index order. A table keyed by entry
index alone (given ``stored_range``) is compared with the stored rows of the chunk's
index range as two lists, at C speed. The others go to a scratch SQLite file; the
stored tables are copied beside them (or merged as they stream) and SQLite joins the
two on the primary key. Only a row that differs is named by table, entry and column.

Nothing here knows a table: the shapes (columns, primary key) and the stored rows
are passed in, so a table added to ``PROJECTION_TABLES`` is audited for free.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
# The stored rows of a table keyed by entry index, idx in lo..hi (inclusive), in idx order.
StoredRange = Callable[[str, int, int], Iterable[tuple[Any, ...]]]
_LOWEST, _HIGHEST = -(2**63), 2**63 - 1
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
    """A valid leaf whose projection raised: a bug or a kind the projection does not know
    (or a row of a range-compared table its entry may not make: ``subject`` the table)."""

    entry: int
    text: str
    subject: str | None = None


class _UnorderedError(Exception):
    """Stored rows whose key order Python cannot follow: compare by copy and join."""


_MERGE_LIMIT = 200  # differences collected per table; the first by entry is named


@dataclass(frozen=True)
class Plan:
    """What a worker needs to project a chunk: the projections, and each table's columns
    (so that it sends rows back as plain tuples, cheap to pickle and to insert)."""

    projections: Projections
    columns: Mapping[str, tuple[str, ...]]
    kept: frozenset[str] = frozenset()  # kinds whose entries come back (``Kept``), slimmed
    # Tables a worker compares with the stored index range itself (``rangecheck``), read
    # from this SQLite file: only a ``Settled`` per table comes back.
    direct: frozenset[str] = frozenset()
    database: str | None = None


class Kept(NamedTuple):
    """An entry the main process needs after the pass (the source and dataset rules), so
    that no second pass parses the log again: ``entry`` None if the leaf does not parse."""

    entry_index: int
    kind: str
    entry: Any


_SLIM_BODY = ("source", "dataset")  # all the rules read of an image.registered body


class RowUpdate(NamedTuple):
    entry: int
    update: Update


class Settled(NamedTuple):
    """A chunk's rows of a range-compared table, already compared by the worker."""

    table: str
    rows: int
    differences: tuple[Difference, ...]  # the first ones, in the merge's order


# A new row: (table, (*values in column order, entry index)); an update; a kept entry;
# a table compared in the worker, or (last) the error the worker found in such a table.
Projected = list[tuple[str, tuple[Any, ...]] | RowUpdate | Kept | Settled | Failure]


def project_rows(rows: Sequence[Row], plan: Plan, *,
                 entries: Sequence[Any] | None = None) -> Projected | Failure:
    """The row changes of a chunk of leaves, or the first error (the replay names a
    malformed leaf first; a projection error on a valid leaf is reported after it).

    ``entries``: the rows' entries, already parsed (by the fast path's checks, which also
    found each stored kind to be its entry's), so that no leaf is parsed twice."""
    out: Projected = []
    loads, projections, columns, kept = json.loads, plan.projections, plan.columns, plan.kept
    if entries is not None and len(entries) != len(rows):
        raise ValueError("one parsed entry per row is needed")
    for at, (idx, leaf, _hash, kind, _actor) in enumerate(rows):
        projection = projections.get(kind)  # the stored kind; the replay checks it
        if projection is None and kind not in kept:
            continue
        try:
            entry = _entry_of(leaf, loads) if entries is None else entries[at]
        except Exception as exc:
            if projection is None:
                out.append(Kept(idx, kind, None))
                continue
            return Failure(idx, f"its projection fails ({type(exc).__name__}: {exc})")
        if kind in kept:
            out.append(Kept(idx, kind, _slim(entry) if kind == "image.registered" else entry))
        if projection is None:
            continue
        try:
            made = projection(idx, entry)
        except Exception as exc:
            return Failure(idx, f"its projection fails ({type(exc).__name__}: {exc})")
        for change in made:
            names = columns.get(change.table)
            if names is None:
                return Failure(idx, f"its projection writes {change.table}, which is not a "
                                    "projection table")
            if isinstance(change, Insert):
                out.append((change.table, (*map(change.values.get, names), idx)))
            else:
                out.append(RowUpdate(idx, change))
    return out


def _slim(entry: Any) -> Any:
    """An image.registered entry cut to what the rules read (keys kept only if present, so
    a malformed entry stays malformed): cheap to send back from a worker."""
    if not isinstance(entry, dict) or not isinstance(entry.get("body"), dict):
        return entry
    body = entry["body"]
    slim = {k: entry[k] for k in ("kind", "actor") if k in entry}
    slim["body"] = {k: body[k] for k in _SLIM_BODY if k in body}
    return slim


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

    def __init__(self, shapes: Sequence[TableShape], projections: Projections, *,
                 stored_range: StoredRange | None = None, kept: frozenset[str] = frozenset(),
                 database: str | None = None) -> None:  # fmt: skip
        """``stored_range``: tables keyed by ``idx`` alone are then compared chunk by chunk
        with the stored rows of the chunk's index range, without the scratch file (each
        entry makes at most its own row there, never updated). ``database``: the SQLite
        file holding them, which worker processes then read and compare themselves
        (``rangecheck``). ``kept``: kinds whose entries ``kept`` lists after the pass, in
        log order."""
        self.shapes = {shape.name: shape for shape in shapes}
        self._direct = {s.name for s in shapes if stored_range is not None and s.key == ("idx",)}
        self.plan = Plan(projections, {shape.name: shape.columns for shape in shapes}, kept,
                         frozenset(self._direct) if database else frozenset(), database)
        self.rows = 0
        self.kept: list[Kept] = []
        self._error: tuple[int, str, str | None] | None = None
        self._range = stored_range
        self._found: dict[str, list[Difference]] = {name: [] for name in self._direct}
        self._span: tuple[int, int] | None = None  # the entry indexes the chunks covered
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

    def add(self, changes: Projected | Failure, span: tuple[int, int] | None = None) -> None:
        """One chunk's changes (``project_rows``), in index order; ``span``: the first and
        last stored index of the chunk (needed for the tables compared by range).

        A problem is kept for ``compare``, which runs after the replay: an error the replay
        finds at an earlier index (a deleted entry, say) must win."""
        if self._error is not None:
            return
        if isinstance(changes, Failure):
            self._error = (changes.entry, changes.text, changes.subject)
            return
        try:
            direct = self._apply(changes, span)
            if self._direct:
                self._compare_span(direct, span)
        except VerificationError as exc:
            self._error = (exc.index or 0, exc.message, exc.subject)

    def _apply(self, changes: Projected, span: tuple[int, int] | None
               ) -> dict[str, list[tuple[Any, ...]]]:  # fmt: skip
        """Rows of the scratch-file tables go there; the rows of range-compared tables are
        returned by table (but for the tables a worker compared)."""
        direct: dict[str, list[tuple[Any, ...]]] = {name: [] for name in self._direct}
        run: list[tuple[Any, ...]] = []
        run_table = ""
        for item in changes:
            if isinstance(item, Kept):
                self.kept.append(item)
                continue
            if isinstance(item, Settled):
                self._settled(item, span)
                direct.pop(item.table, None)
                continue
            if isinstance(item, Failure):  # found by the worker where _apply would raise
                raise VerificationError(item.text, subject=item.subject, index=item.entry)
            if isinstance(item, RowUpdate):
                if item.update.table in direct:
                    raise VerificationError(f"entry {item.entry}: its projection updates "
                                            f"{item.update.table}, whose rows no entry updates",
                                            subject=item.update.table, index=item.entry)
                self._flush(run_table, run)
                run, run_table = [], ""
                change = item.update
                self._update(item.entry, change.table, change.key, change.values)
                continue
            table, values = item
            rows = direct.get(table)
            if rows is not None:
                if values[0] != values[-1]:  # idx first: the key of its own entry
                    raise VerificationError(f"entry {values[-1]}: its projection writes "
                                            f"{table} row idx={values[0]!r}, not its own index",
                                            subject=table, index=values[-1])
                rows.append(values)
                continue
            if table != run_table:
                self._flush(run_table, run)
                run, run_table = [], table
            run.append(values)
        self._flush(run_table, run)
        return direct

    def _settled(self, item: Settled, span: tuple[int, int] | None) -> None:
        """A table a worker compared: its count, its first differences up to the limit."""
        if span is None:
            raise ValueError("a chunk's span is needed to compare by index range")
        self.rows += item.rows
        found = self._found[item.table]
        found.extend(item.differences[: max(0, _MERGE_LIMIT - len(found))])

    def _compare_span(self, direct: dict[str, list[tuple[Any, ...]]],
                      span: tuple[int, int] | None) -> None:
        """The chunk's rows of each range-compared table against the stored rows of its
        index range: equal lists at C speed; the merge names rows only where they differ."""
        if span is None:
            raise ValueError("a chunk's span is needed to compare by index range")
        first, last = span
        lowest = first if self._span is None else self._span[0]
        self._span = (lowest, last)
        for name, rows in direct.items():
            self.rows += len(rows)
            stored = list(self._stored_range(name, first, last))
            found = self._found[name]
            if len(found) >= _MERGE_LIMIT or [r[:-1] for r in rows] == stored:
                continue
            found.extend(_merge(self.shapes[name], iter(rows), iter(stored),
                                _MERGE_LIMIT - len(found)))

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
            if shape.name in self._direct:
                differences.extend(self._outside_span(shape))
                continue
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

    def _outside_span(self, shape: TableShape) -> list[Difference]:
        """Stored rows of a range-compared table outside every chunk's range."""
        found = self._found[shape.name]
        outside = ((_LOWEST, _HIGHEST),) if self._span is None else (
            (_LOWEST, self._span[0] - 1), (self._span[1] + 1, _HIGHEST))
        for low, high in outside:
            if len(found) < _MERGE_LIMIT:
                stored = iter(self._stored_range(shape.name, low, high))
                found.extend(_merge(shape, iter(()), stored, _MERGE_LIMIT - len(found)))
        return found

    def _stored_range(self, name: str, low: int, high: int) -> Iterable[tuple[Any, ...]]:
        if self._range is None:  # not reached: no table is range-compared without it
            raise ValueError("no stored_range given")
        return self._range(name, low, high)

    def _merged(self, shape: TableShape, rows: Iterable[tuple[Any, ...]]) -> list[Difference]:
        """Both sides in primary-key order, compared as they stream (SQLite on both sides:
        its BINARY order of UTF-8 text is Python's order of ``str``; mixed types raise)."""
        cols = ", ".join(f'"{c}"' for c in shape.columns)
        keys = ", ".join(f'"{c}"' for c in shape.key)
        query = f"SELECT {cols}, _entry FROM e_{shape.name} ORDER BY {keys}"  # noqa: S608 - names from the table metadata
        log_rows = iter(self._db.execute(query))
        return _merge(shape, log_rows, iter(rows), _MERGE_LIMIT)

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


def _merge(shape: TableShape, log_rows: Iterator[tuple[Any, ...]],
           stored_rows: Iterator[tuple[Any, ...]], limit: int) -> list[Difference]:
    """Expected rows (values, then the entry) and stored rows, both in primary-key order,
    compared as they stream: up to ``limit`` differences; _UnorderedError if the stored
    order is not Python's."""
    name = shape.name
    at = [shape.columns.index(c) for c in shape.key]
    found: list[Difference] = []
    want, got = next(log_rows, None), next(stored_rows, None)
    last: tuple[Any, ...] | None = None
    try:
        while (want is not None or got is not None) and len(found) < limit:
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


def _describe(shape: TableShape, entry: int, log_row: tuple[Any, ...],
              stored_row: tuple[Any, ...] | None) -> Difference:
    name = shape.name
    if stored_row is None:
        key = _key_text(shape, log_row)
        return Difference(name, entry, f"entry {entry}: the row {key} the log implies is missing")
    for column, want, got in zip(shape.columns, log_row, stored_row, strict=True):
        if want != got or type(want) is not type(got):
            row = dict(zip(shape.columns, log_row, strict=True))  # several rows per entry:
            sub = shape.key if "idx" in shape.key else ()  # name which (frame_keys' frame)
            also = "".join(f", {c} {row[c]}" for c in sub if c not in ("idx", column))
            return Difference(name, entry, f"entry {entry}{also}, column {column}: stored "
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
