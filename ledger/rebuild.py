"""``medledger rebuild``: every projection table recreated from the log alone.

For a database restored from a bundle, or one whose tables were damaged: the tables in
``PROJECTION_TABLES`` are emptied and refilled by the registered projections from every
leaf, in one transaction (all or nothing: an interrupted rebuild leaves the tables as
they were). Projection tables take DELETE (only the log's tables are append-only). The
duplicate findings (``FINDING_TABLES``) are emptied in the same transaction; the caller
rescans them afterwards with the catch-up scan, which is resumable batch by batch.

Entries are read from the leaves themselves (the ``kind`` column is not trusted).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import VerificationError
from ledger.model.projection import Change, Insert, Projections
from ledger.model.registry import DEFAULT_PROJECTIONS
from ledger.projections import changes_of
from ledger.store import Store, locked_write
from ledger.store.projected import apply_changes, empty_tables
from ledger.store.tables import FINDING_TABLES, PROJECTION_TABLES

BATCH = 4096
Progress = Callable[[int, int], None]  # (entries done, entries in all)


@dataclass
class Rebuilt:
    entries: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows written
    rescanned: int = 0  # images checked for duplicates again (by the caller)

    def to_json(self) -> dict[str, Any]:
        return {"entries": self.entries, "rows": self.rows, "rescanned": self.rescanned}


def rebuild_projections(
    store: Store, *, projections: Projections = DEFAULT_PROJECTIONS,
    progress: Progress | None = None,
) -> Rebuilt:
    result = Rebuilt(rows=dict.fromkeys(PROJECTION_TABLES, 0))
    with locked_write(store.engine) as conn:
        total = store.count_leaves(conn)
        empty_tables(conn, [*reversed(FINDING_TABLES), *PROJECTION_TABLES])
        for start in range(0, total, BATCH):
            changes: list[Change] = []
            for idx, leaf, _hash, _kind, _actor in store.iter_leaves(
                conn, start=start, end=min(start + BATCH, total)
            ):
                changes.extend(changes_of(idx, _entry(idx, leaf), projections))
                result.entries += 1
            apply_changes(conn, changes)
            for change in changes:
                result.rows[change.table] += isinstance(change, Insert)
            if progress is not None:
                progress(result.entries, total)
    return result


def _entry(idx: int, leaf: bytes) -> dict[str, Any]:
    try:
        entry = json.loads(leaf)["envelope"]["entry"]
        if not isinstance(entry, dict) or "kind" not in entry:
            raise ValueError("no entry kind")
    except (ValueError, KeyError, TypeError) as exc:
        raise VerificationError(f"malformed leaf, nothing rebuilt ({exc}); run medledger verify",
                                index=idx) from exc
    return entry
