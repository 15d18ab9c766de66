"""Catch-up scan: check images appended without a duplicate check against earlier ones.

Registration checks its own batches in their append transaction; images that reached
the log another way (``Ledger.submit``, a restored database) are checked here before
any dataset-level query, in index order, so each image is compared with the images
registered before it exactly as registration would have.

Findings made by another version of the decision
(:data:`ledger.similarity.verification.DECISION_VERSION`, recorded in the ``meta`` table
under ``dup_decision``; a ledger without it predates the record, version 1) are forgotten
first, so every image is checked again with the decision this code makes.

Each batch is one transaction: Ctrl-C (or a crash) loses at most the batch being
checked, and a rerun continues with the images still unscanned. A batch's candidates are
found in this process (the index and the stored grids are here); their verifications,
pure tasks, are spread over a pool of worker processes and this one, results taken in
order, so the findings are those of a scan in one process.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.similarity.catalog import LedgerIndex, descriptor_of
from ledger.similarity.findings import Submission, TaskMap, check, edges_and_groups
from ledger.similarity.verification import DECISION_SETTING, DECISION_VERSION
from ledger.store import locked_write, reading
from ledger.store.duplicates import (
    clear_scans,
    count_unscanned,
    descriptor_parts,
    images,
    put_scans,
    unscanned,
)
from ledger.workerpool import WorkerPool

SCAN_BATCH = 256
ScanProgress = Callable[[int, int], None]  # (done, total)


def record_decision(index: LedgerIndex) -> bool:
    """Forget findings another version of the decision made; True if it did."""
    current = str(DECISION_VERSION)
    with reading(index.store.engine) as conn:
        if index.store.get_meta(conn, DECISION_SETTING) == current:
            return False
    with locked_write(index.store.engine) as conn:
        if index.store.get_meta(conn, DECISION_SETTING) == current:
            return False  # another process did it meanwhile
        clear_scans(conn)
        index.store.set_meta(conn, DECISION_SETTING, current)
    return True


def pending(index: LedgerIndex) -> int:
    with reading(index.store.engine) as conn:
        return count_unscanned(conn)


def scan(index: LedgerIndex, *, workers: int = 1, progress: ScanProgress | None = None) -> int:
    """Check every unscanned image; returns how many were checked. Safe to interrupt.

    ``workers``: processes that verify the candidates beside this one (``<= 1``: this
    process alone); the findings are the same for any number."""
    record_decision(index)
    total = pending(index)
    # Nothing to check: no pool to start (dataset-level commands run this every time).
    with WorkerPool(workers=workers if total else 1) as pool:
        return _scan(index, total, map_tasks=pool.map, progress=progress)


def _scan(
    index: LedgerIndex, total: int, *, map_tasks: TaskMap, progress: ScanProgress | None
) -> int:
    done = 0
    while True:
        with reading(index.store.engine) as conn:
            batch = unscanned(conn, limit=SCAN_BATCH)
            info = images(conn, batch)
            parts = descriptor_parts(conn, batch)
        if not batch:
            break
        items = []
        for idx in batch:
            keys, grid = parts.get(idx, (b"", None))
            descriptor = None if grid is None else descriptor_of(keys, grid)
            items.append(Submission(str(idx), info[idx].pixel_sha256, descriptor))
        findings = check(index, items, before=batch, map_tasks=map_tasks)
        scans, edges = edges_and_groups(index, batch, findings)
        with locked_write(index.store.engine) as conn:
            # Another scan may have done some of these meanwhile: keep its rows.
            still = set(unscanned(conn, limit=len(batch) + SCAN_BATCH))
            put_scans(
                conn,
                [s for s in scans if s[0] in still],
                [e for e in edges if e.idx in still],
            )
        done += len(batch)
        if progress is not None:
            progress(done, max(total, done))
    return done
