"""Ledgers with a known history, and what an attacker with the database file does."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ledger.service import Ledger

# The standard history: index -> what it is.
HISTORY = {
    0: "genesis: admin key added, signed by itself",
    1: "key.added alice (submitter)",
    2: "key.added bob (curator)",
    3: "key.added carol (admin)",
    4: "key.revoked bob",
    5: "key.added dave (verifier)",
}
SIZE = len(HISTORY)


def grow(ledger: Ledger, upto: int) -> None:
    """Append the standard history to ``ledger`` until it has ``upto`` entries."""
    steps = [
        lambda: ledger.add_key("alice", "submitter"),
        lambda: ledger.add_key("bob", "curator"),
        lambda: ledger.add_key("carol", "admin"),
        lambda: ledger.revoke_key("bob", reason="left"),
        lambda: ledger.add_key("dave", "verifier"),
    ]
    for step in steps[ledger.size() - 1 : upto - 1]:
        step()
    assert ledger.size() == upto


def build(directory: Path, *, upto: int = SIZE, database_url: str | None = None) -> Path:
    """A ledger in ``directory`` holding the first ``upto`` entries of HISTORY."""
    ledger = Ledger.init(directory, database_url=database_url)
    try:
        grow(ledger, upto)
    finally:
        ledger.store.engine.dispose()
    return directory


def extend(directory: Path, upto: int) -> None:
    ledger = Ledger.open(directory)
    try:
        grow(ledger, upto)
    finally:
        ledger.store.engine.dispose()


def database(directory: Path) -> Path:
    db = directory / "ledger.db"
    assert db.is_file()
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    return db


@contextlib.contextmanager
def attacker(directory: Path) -> Iterator[sqlite3.Connection]:
    """Plain sqlite3 on the ledger's file, triggers dropped first, committed at the end."""
    with contextlib.closing(sqlite3.connect(database(directory))) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")]
        assert names, "the ledger database has append-only triggers to drop"
        for name in names:
            conn.execute(f'DROP TRIGGER "{name}"')
        yield conn
        conn.commit()


def copy_database(directory: Path, target: Path) -> None:
    shutil.copyfile(database(directory), target)


RunCli = Callable[..., Any]  # the run_cli / cli fixtures (tests/conftest.py)


@contextlib.contextmanager
def opened(directory: Path) -> Iterator[Ledger]:
    ledger = Ledger.open(directory)
    try:
        yield ledger
    finally:
        ledger.store.engine.dispose()


def snapshot(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under ``directory`` (a missing directory: empty).

    Left out, as they hold no ledger content: empty ``*.lock`` files (taking a lock
    is not writing), SQLite's ``-shm`` index and an empty ``-wal`` (an open
    connection's; a non-empty WAL holds writes and is compared).
    """
    if not directory.exists():
        return {}

    def content(p: Path) -> bool:
        empty = p.stat().st_size == 0
        return not (p.name.endswith("-shm") or (empty and p.name.endswith((".lock", "-wal"))))

    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and content(p)
    }
