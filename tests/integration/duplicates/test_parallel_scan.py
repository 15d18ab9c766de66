"""The catch-up scan verifies on worker processes and records what one process records.

One ledger of images registered with ``--defer-duplicate-check`` (pydicom's test files,
copies made with Pillow and exact re-encodings, see test_registration_checks), made
twice and scanned with ``--workers 1`` (everything in this process) and ``--workers 2``
(each batch's verifications spread over the pool and this process): the same edges, with
the same distances and details, and the same groups. Interrupted between two batches, a
scan on workers keeps the first and a rerun ends where an uninterrupted scan does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from ledger.service import Ledger
from ledger.similarity import scan as scan_module
from ledger.similarity.scan import pending, scan
from ledger.workerpool import WorkerPool

from ..registration.support import RunCli, make_ledger, register_args
from .test_parallel_check import ENCODINGS, _pydicom
from .test_registration_checks import ORIGINALS, make_copies

Findings = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


@pytest.fixture
def deferred(cli: RunCli, tmp_path: Path) -> Callable[[str], Path]:
    """Makes a ledger whose every image was registered without the duplicate check, the
    same each time (a copied ledger directory would still name the first one's database)."""
    copies = tmp_path / "copies"
    make_copies(copies)

    def make(name: str) -> Path:
        ledger = make_ledger(tmp_path / name)
        for paths, source in (
            ([_pydicom(n) for n in ORIGINALS], "archive-a"),
            ([copies, *(_pydicom(n) for n in ENCODINGS)], "archive-b"),
        ):
            extra = ("--defer-duplicate-check", "--dataset", f"{source}@1")
            args = register_args(*paths, source=source, extra=extra)
            result = cli(*args, ledger=ledger)
            assert result.rc == 0, result.stderr
        assert _findings(ledger) == ([], [])
        return ledger

    return make


def _findings(ledger: Path) -> Findings:
    with sqlite3.connect(ledger / "ledger.db") as db:
        edges = db.execute(
            "select idx, match_idx, kind, distance, detail from dup_edges order by idx, match_idx"
        ).fetchall()
        scans = db.execute("select idx, group_idx from dup_scans order by idx").fetchall()
    return edges, scans


def _scanned(cli: RunCli, ledger: Path, workers: int) -> Findings:
    result = cli("scan", "--workers", str(workers), "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    assert result.json() == {"checked": len(ORIGINALS) * 5 + len(ENCODINGS)}
    return _findings(ledger)


def test_a_scan_on_two_workers_records_what_one_process_records(
    cli: RunCli, deferred: Callable[[str], Path], pooled: list[int]
) -> None:
    alone = _scanned(cli, deferred("one"), workers=1)
    assert not pooled
    spread = _scanned(cli, deferred("two"), workers=2)
    assert any(size >= 2 for size in pooled), pooled  # the pool had verifications to share

    assert spread == alone
    edges, scans = alone
    assert {kind for _, _, kind, _, _ in edges} == {"exact", "near"}
    assert len(scans) == len(ORIGINALS) * 5 + len(ENCODINGS)
    assert len({group for _, group in scans}) == len(ORIGINALS)  # one group per picture


def test_an_interrupted_scan_on_workers_resumes_to_the_same_findings(
    cli: RunCli, deferred: Callable[[str], Path], pooled: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _scanned(cli, deferred("whole"), workers=1)
    ledger = deferred("stopped")
    monkeypatch.setattr(scan_module, "SCAN_BATCH", 8)
    calls = 0
    verify = WorkerPool.map  # the fixture's: waits for a worker

    def interrupted(self: WorkerPool, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
        nonlocal calls
        calls += 1
        if calls == 2:  # Ctrl-C while the second batch is being verified
            raise KeyboardInterrupt
        return verify(self, fn, tasks)

    monkeypatch.setattr(WorkerPool, "map", interrupted)
    opened = Ledger.open(ledger)
    try:
        with pytest.raises(KeyboardInterrupt):
            scan(opened.duplicate_index(), workers=2)
        assert pending(opened.duplicate_index()) == len(expected[1]) - 8  # the first batch
        monkeypatch.setattr(WorkerPool, "map", verify)
        assert scan(opened.duplicate_index(), workers=2) == len(expected[1]) - 8
    finally:
        opened.store.engine.dispose()
    assert pooled  # both runs verified on the pool
    assert _findings(ledger) == expected


def test_dataset_commands_run_the_catch_up_scan_on_their_workers(
    cli: RunCli, deferred: Callable[[str], Path], pooled: list[int]
) -> None:
    def dups(ledger: Path, workers: int) -> Any:
        args = ("dups", "--dataset", "archive-b@1", "--workers", str(workers), "--json")
        result = cli(*args, ledger=ledger)
        assert result.rc == 0, result.stderr
        return result.json()

    alone_ledger, spread_ledger = deferred("one"), deferred("two")
    alone = dups(alone_ledger, workers=1)
    assert not pooled
    spread = dups(spread_ledger, workers=2)
    assert pooled  # the scan before the query verified on the pool

    assert spread == alone and alone["groups"]
    assert _findings(spread_ledger) == _findings(alone_ledger) != ([], [])
