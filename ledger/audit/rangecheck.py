"""The projection audit's per-chunk comparison, done in the worker that projected the chunk.

A table keyed by entry index alone holds, for a chunk of entries, exactly the rows of
the chunk's index range. A worker that can open the ledger's SQLite file reads that
range itself and compares it with the rows it projected, so only the row count and the
differences (usually none) cross back to the main process, instead of every row
pickled there and compared while both cores verify signatures (issue 18's budget).

Read-only and outside the main process's read transaction: the rows of an index range
the main process has read are never updated (an update of such a table is itself a
difference) and ``rebuild`` replaces them in one transaction, so either snapshot gives
the same rows. PostgreSQL, and a database without a file, keep the main process's
comparison (``ProjectionAudit.add``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ledger.audit.projections import (
    _MERGE_LIMIT,
    Failure,
    Kept,
    Plan,
    Projected,
    RowUpdate,
    Settled,
    StoredRange,
    TableShape,
    _merge,
)

_READERS: dict[str, sqlite3.Connection] = {}  # per worker process: path -> connection


def settle(changes: Projected | Failure, plan: Plan, span: tuple[int, int],
           stored: StoredRange) -> Projected | Failure:
    """``changes`` with the rows of ``plan.direct``'s tables replaced by one ``Settled``
    per table (compared with ``stored`` over ``span``). A row such a table may not get
    ends the list with a ``Failure`` naming the table, where ``ProjectionAudit`` would
    have raised (the changes before it still apply in order: an earlier error wins)."""
    if isinstance(changes, Failure) or not plan.direct:
        return changes
    direct: dict[str, list[tuple[Any, ...]]] = {name: [] for name in plan.direct}
    rest: Projected = []
    for item in changes:
        wrong = _wrong(item, direct)
        if wrong is not None:
            rest.append(wrong)
            return rest
        if isinstance(item, Kept | RowUpdate | Settled | Failure) or item[0] not in direct:
            rest.append(item)
        else:
            direct[item[0]].append(item[1])
    first, last = span
    for name in sorted(direct):
        rows = direct[name]
        got = stored(name, first, last)
        if [r[:-1] for r in rows] == got:
            found: tuple[Any, ...] = ()
        else:
            shape = TableShape(name, plan.columns[name], ("idx",))
            found = tuple(_merge(shape, iter(rows), iter(got), _MERGE_LIMIT))
        rest.append(Settled(name, len(rows), found))
    return rest


def _wrong(item: Any, direct: Mapping[str, Any]) -> Failure | None:
    """The error ``ProjectionAudit._apply`` names for a change to a range-compared table
    that its entry may not make (an update, or a row not keyed by the entry's index)."""
    if isinstance(item, RowUpdate):
        table = item.update.table
        if table in direct:
            return Failure(item.entry, f"entry {item.entry}: its projection updates {table}, "
                                       "whose rows no entry updates", table)
    elif type(item) is tuple and item[0] in direct:
        table, values = item
        if values[0] != values[-1]:  # idx first: the key of its own entry
            return Failure(values[-1], f"entry {values[-1]}: its projection writes {table} "
                                       f"row idx={values[0]!r}, not its own index", table)
    return None


def sqlite_range(path: str, columns: Mapping[str, tuple[str, ...]]) -> StoredRange:
    """The stored rows of an idx-keyed table over an index range (``columns`` in the order
    the main process reads them), from the SQLite file at ``path`` through this process's
    own read-only connection (opened once per process)."""
    conn = _READERS.get(path)
    if conn is None:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True)
        conn.execute("PRAGMA busy_timeout=60000")
        _READERS[path] = conn
    reader = conn

    def read(name: str, low: int, high: int) -> list[tuple[Any, ...]]:
        cols = ", ".join(f'"{c}"' for c in columns[name])
        query = f'SELECT {cols} FROM "{name}" WHERE idx BETWEEN ? AND ? ORDER BY idx'  # noqa: S608 - names from the table metadata
        return reader.execute(query, (low, high)).fetchall()

    return read


def sqlite_file(url: str) -> str | None:
    """The file of a ``sqlite:///PATH`` URL, or None (PostgreSQL, in-memory SQLite)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or ":memory:" in url:
        return None
    path = url[len(prefix):].split("?", 1)[0]
    return path if Path(path).is_file() else None

