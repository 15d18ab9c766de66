"""Catch-up scan: check images appended without a duplicate check against earlier ones.

Registration checks its own batches in their append transaction; images that reached
the log another way (``Ledger.submit``, a restored database) are checked here before
any dataset-level query, in index order, so each image is compared with the images
registered before it exactly as registration would have.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.similarity.catalog import LedgerIndex, descriptor_of
from ledger.similarity.findings import Submission, check, edges_and_groups
from ledger.store import locked_write, reading
from ledger.store.duplicates import (
    count_unscanned,
    descriptor_parts,
    images,
    put_scans,
    unscanned,
)

SCAN_BATCH = 256
ScanProgress = Callable[[int, int], None]  # (done, total)


def pending(index: LedgerIndex) -> int:
    with reading(index.store.engine) as conn:
        return count_unscanned(conn)


def scan(index: LedgerIndex, *, progress: ScanProgress | None = None) -> int:
    """Check every unscanned image; returns how many were checked. Safe to interrupt."""
    total = pending(index)
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
        findings = check(index, items, before=batch)
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
