"""Several processes appending to one ledger at once never fork the chain."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ledger.service import Ledger

from .builders import RunCli, opened
from .independent import leaf_hash_of

WORKER = Path(__file__).with_name("concurrent_worker.py")
PROCESSES = 4
PER_PROCESS = 12


def race(directory: Path, *, processes: int = PROCESSES, each: int = PER_PROCESS) -> None:
    (directory.parent / "go").unlink(missing_ok=True)
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(directory), f"w{n}", str(each)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(processes)
    ]
    (directory.parent / "go").touch()
    failures = []
    for proc in workers:
        _out, err = proc.communicate(timeout=300)
        if proc.returncode != 0:
            failures.append(err)
    assert not failures, "\n\n".join(failures)


def assert_one_chain(directory: Path, run_cli: RunCli, *, expected: int) -> None:
    entries = run_cli("log", "entries", "--json", ledger=directory).json()
    assert [e["index"] for e in entries] == list(range(expected))
    prev = "0" * 64
    for entry in entries:
        assert entry["leaf"]["prev"] == prev, f"fork at {entry['index']}"
        assert bytes.fromhex(entry["leaf_hash"]) == leaf_hash_of(entry["leaf"])
        prev = entry["leaf_hash"]
    names = [e["leaf"]["envelope"]["entry"]["body"]["name"] for e in entries[1:]]
    assert len(set(names)) == len(names) == expected - 1
    # The ledger directory remembers the newest checkpoint, not whichever came last.
    seen = (directory / "checkpoint").read_text().split("\n")
    assert int(seen[1]) == expected
    verified = run_cli("verify", "--json", ledger=directory)
    assert verified.rc == 0, verified.stderr
    assert verified.json()["size"] == expected


@pytest.mark.slow
def test_concurrent_writers_on_sqlite(tmp_path: Path, run_cli: RunCli) -> None:
    directory = tmp_path / "ledger"
    Ledger.init(directory).store.engine.dispose()
    race(directory)
    assert_one_chain(directory, run_cli, expected=1 + PROCESSES * PER_PROCESS)


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_writers_on_postgres(
    tmp_path: Path, postgres_url: str, run_cli: RunCli
) -> None:
    directory = tmp_path / "ledger"
    Ledger.init(directory, database_url=postgres_url).store.engine.dispose()
    race(directory)
    assert_one_chain(directory, run_cli, expected=1 + PROCESSES * PER_PROCESS)
    with opened(directory) as ledger:
        assert ledger.verify().checkpoints >= 1


def test_directory_checkpoint_is_written_safely_from_many_writers(ledger_dir: Path) -> None:
    """Every writer process remembers the newest checkpoint in the ledger directory;
    two doing so at once must neither crash nor leave a torn file."""
    import threading

    from ledger.directory import LedgerDir

    note = (ledger_dir / "checkpoint").read_text()
    errors: list[BaseException] = []

    def remember() -> None:
        try:
            for _ in range(300):
                LedgerDir(ledger_dir).remember_checkpoint(note)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=remember) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (ledger_dir / "checkpoint").read_text() == note
