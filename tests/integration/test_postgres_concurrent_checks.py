"""Two registrations at the same moment, on a real PostgreSQL (the scale-out path).

The scenarios are those of ``duplicates/test_concurrent_checks.py``, run as they are: the
same interleavings (another run appends between this run's check and its append), the same
assertions. Only the ledger differs: its log is a fresh PostgreSQL database (the
``postgres_url`` fixture), so the other run is another connection and the sequencer is the
advisory lock, and the scenarios' table reader ``_rows`` reads that database, not a SQLite
file.

Processes share a PostgreSQL log through one ledger directory (config, keys, secret);
``init`` refuses a database that already holds a ledger, so a second directory cannot be
made for the same log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.store.engine import SEQUENCER_LOCK_ID

from .duplicates import test_concurrent_checks as scenarios
from .registration import support
from .registration.support import Background, RunCli, make_ledger

pytestmark = pytest.mark.postgres


@pytest.fixture
def ledger(tmp_path: Path, postgres_url: str) -> Iterator[Path]:
    """A registration-ready ledger whose log is on PostgreSQL; the scenarios read it there.

    The reader is swapped in by a monkeypatch of its own: a scenario may ``undo`` the one it
    is given and still read the tables afterwards."""

    def rows(ledger: Path, query: str, *params: object) -> list[tuple[Any, ...]]:
        assert ledger == directory, ledger
        with psycopg.connect(postgres_url) as conn:
            return conn.execute(query.replace("?", "%s"), params).fetchall()

    directory = make_ledger(tmp_path / "ledger", database_url=postgres_url)
    assert not (directory / "ledger.db").exists()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scenarios, "_rows", rows)
        yield directory


def test_a_copy_appended_between_check_and_append_is_found(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios.test_a_copy_appended_between_check_and_append_is_found(ledger, tmp_path, monkeypatch)


def test_an_exact_copy_appended_meanwhile_is_found_and_grouped(
    ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios.test_an_exact_copy_appended_meanwhile_is_found_and_grouped(ledger, monkeypatch)


def test_a_third_copy_joins_the_group_of_the_concurrent_pair(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios.test_a_third_copy_joins_the_group_of_the_concurrent_pair(
        ledger, tmp_path, monkeypatch
    )


def test_reject_duplicates_refuses_a_copy_appended_meanwhile_and_writes_nothing_of_it(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios.test_reject_duplicates_refuses_a_copy_appended_meanwhile_and_writes_nothing_of_it(
        ledger, tmp_path, monkeypatch
    )


def test_reject_duplicates_keeps_refusing_until_a_batch_goes_in(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios.test_reject_duplicates_keeps_refusing_until_a_batch_goes_in(
        ledger, tmp_path, monkeypatch
    )


def test_images_appended_meanwhile_that_are_no_copies_change_nothing(
    ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios.test_images_appended_meanwhile_that_are_no_copies_change_nothing(
        ledger, tmp_path, monkeypatch
    )


@pytest.mark.slow
def test_two_register_processes_at_once_report_every_pair(
    ledger: Path, tmp_path: Path, cli: RunCli
) -> None:
    """Two ``medledger register`` processes on one PostgreSQL log, in whatever order."""
    scenarios.test_two_register_processes_at_once_report_every_pair(ledger, tmp_path, cli)


def _waiting_for_the_sequencer(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
        " WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_two_register_processes_that_both_checked_first_report_every_pair(
    ledger: Path, tmp_path: Path, postgres_url: str, cli: RunCli
) -> None:
    """The same two processes, made to race: both check before either appends.

    The test holds the sequencer's advisory lock while both start, and lets it go once
    both wait for it in their append, their checks done against a log without the other's
    batch. The pairs can then only be found inside the second append, under the lock."""
    holder = psycopg.connect(postgres_url, autocommit=True)
    holder.execute("SELECT pg_advisory_lock(%s)", (SEQUENCER_LOCK_ID,))
    started: list[Background] = []

    def start(args: list[str], directory: Path, logs: Path) -> Background:
        started.append(support.start(args, directory, logs))
        if len(started) < 2:
            return started[-1]
        try:
            deadline = time.monotonic() + 240
            while _waiting_for_the_sequencer(holder) < 2:
                ended = [r.proc.returncode for r in started if r.proc.poll() is not None]
                assert not ended, (ended, [r.stderr for r in started])
                assert time.monotonic() < deadline, "the runs never both waited to append"
                time.sleep(0.05)
        except BaseException:
            for run in started:
                run.end_group()
            raise
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (SEQUENCER_LOCK_ID,))
        return started[-1]

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(scenarios, "start", start)
            scenarios.test_two_register_processes_at_once_report_every_pair(ledger, tmp_path, cli)
    finally:
        holder.close()
    assert len(started) == 2
