"""Tallying a share of a profile's members: each leaf hashed, parsed and counted, and the
demographics rows of their commitments opened.

The same code runs in the command's own process (its share, through its transaction) and in
one worker process on SQLite (the other share, through a read-only connection of its own).
The worker is spawned, not forked, and imports only this module (sqlite3, orjson, the tally
and the commitment): about 0.2 s, while the command reads and checks the member list. The
members a worker counts are the entry indexes the command checked against the signed root;
the worker reads only leaves (append-only, each hashed here) and demographics rows.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Collection, Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson

from ledger.consent.commitment import row_commitment
from ledger.datasets.profiletally import Tally
from ledger.errors import VerificationError
from ledger.log.hashing import leaf_hash

# (commitments) -> (commitment, salt, sex, age band) of their subject_demographics rows
DemographicsRows = Callable[[set[str]], Iterable[tuple[Any, ...]]]
# what a worker hands back: the settled tally, or the error and the entry it names
Share = tuple[Tally | None, str | None, int | None]

_RANGE = "SELECT idx, leaf, leaf_hash FROM log_leaves WHERE idx BETWEEN ? AND ? ORDER BY idx"
_DEMOGRAPHICS = "SELECT commitment, salt, sex, age_band FROM subject_demographics"


def tally_leaves(rows: Iterable[tuple[int, Any, Any]], entries: Collection[int],
                 demographics: DemographicsRows) -> Tally:  # fmt: skip
    """The settled tally of the members ``entries`` from their (index, leaf, stored leaf hash)
    ``rows`` (rows of other indexes are skipped); VerificationError for a leaf that does not
    hash to its stored hash, is not an image.registered entry or is missing, or a demographics
    row that does not open its commitment."""
    wanted = entries if isinstance(entries, set | frozenset) else set(entries)
    tally = Tally()
    for index, leaf, stored in rows:
        if index not in wanted:
            continue
        if not isinstance(leaf, bytes) or leaf_hash(leaf) != stored:  # text: an edited row
            raise VerificationError("stored leaf does not hash to its leaf hash", index=index)
        entry = orjson.loads(leaf)["envelope"]["entry"]
        if entry.get("kind") != "image.registered":
            raise VerificationError("a member is not an image.registered entry", index=index)
        tally.add(entry["body"])
    if tally.total != len(wanted):
        raise VerificationError(f"{len(wanted) - tally.total} member leaves are not in the log")
    tally.settle(opening(demographics(tally.commitments())))
    return tally


def opening(rows: Iterable[tuple[Any, ...]]) -> list[tuple[str, Any, Any]]:
    """(commitment, sex, age band) of demographics rows (commitment, salt, sex, age band),
    each checked to open its commitment: one that does not is tamper (verify names it too)."""
    opened = []
    for commitment, salt, sex, age_band in rows:
        try:
            computed = row_commitment(salt, sex, age_band)
        except (TypeError, ValueError):
            computed = ""
        if computed != commitment:
            raise VerificationError("subject_demographics: a row does not open its commitment "
                                    "(tampered); medledger verify names the entry")
        opened.append((commitment, sex, age_band))
    return opened


def _leaves(db: sqlite3.Connection, entries: list[int]) -> list[tuple[Any, ...]]:
    """(index, leaf, stored hash) of ``entries`` (sorted): one range scan when they are dense
    (as ``ledger.store.datasets.leaves_at`` decides), else lists of 500."""
    if not entries:
        return []
    if entries[-1] - entries[0] < 4 * len(entries):
        return list(db.execute(_RANGE, (entries[0], entries[-1])).fetchall())
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(entries), 500):
        part = entries[start : start + 500]
        marks = ",".join("?" * len(part))
        rows.extend(db.execute(f"SELECT idx, leaf, leaf_hash FROM log_leaves "  # noqa: S608 - only "?"
                               f"WHERE idx IN ({marks})", part).fetchall())
    return rows


def tally_share(database: str, entries: list[int]) -> Share:
    """A worker's task: the settled tally of ``entries`` (sorted) read from the SQLite file
    ``database``, or the error it found (exceptions with keywords do not cross processes)."""
    uri = Path(database).resolve().as_uri() + "?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as db:
            rows = _leaves(db, entries)

            def demographics(commitments: set[str]) -> list[tuple[Any, ...]]:
                return [r for r in db.execute(_DEMOGRAPHICS).fetchall() if r[0] in commitments]

            return tally_leaves(rows, entries, demographics), None, None
    except VerificationError as exc:
        return None, exc.message, exc.index


def main() -> None:
    """``python -m ledger.datasets.profileworker``: {"database", "entries"} as JSON on stdin,
    {"tally", "error", "index"} as JSON on stdout."""
    request = orjson.loads(sys.stdin.buffer.read())
    tally, error, index = tally_share(str(request["database"]), list(request["entries"]))
    sys.stdout.buffer.write(orjson.dumps({"tally": tally.to_json() if tally else None,
                                          "error": error, "index": index}))


if __name__ == "__main__":
    main()
