"""Ledgers ready to register images, and readers of what registration wrote.

* ``make_ledger``: a ledger (SQLite, or the ``database_url`` given) with a submitter
  key (``SUBMITTER``) and a verifier key (``VERIFIER``), which cannot sign
  image.registered.
* ``register_args(...)``: the arguments of ``medledger register`` with a valid origin.
* ``image_entries(cli, ledger)``: the ``image.registered`` entries, read through
  ``medledger log entries --json``.
* ``log_size`` and ``count_images``: plain sqlite3 in read-only mode, safe while
  another process writes.
* ``start(...)``: the console script in the background, to be killed or raced.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.service import Ledger

SUBMITTER = "uploader"
VERIFIER = "auditor"
ORIGIN = ("--license", "CC-BY-4.0", "--consent", "consented")

RunCli = Callable[..., Any]  # the run_cli / cli fixtures of tests/conftest.py


def make_ledger(
    directory: Path, *, require_deidentified: bool = False, database_url: str | None = None
) -> Path:
    ledger = Ledger.init(
        directory, database_url=database_url, require_deidentified=require_deidentified
    )
    try:
        ledger.add_key(SUBMITTER, "submitter")
        ledger.add_key(VERIFIER, "verifier")
    finally:
        ledger.store.engine.dispose()
    return directory


def register_args(
    *paths: str | Path,
    source: str = "site-a",
    key: str = SUBMITTER,
    workers: int = 1,
    json: bool = True,
    extra: tuple[str, ...] = (),
) -> list[str]:
    args = ["register", *map(str, paths), "--source", source, *ORIGIN, "--key", key,
            "--workers", str(workers), *extra]  # fmt: skip
    return [*args, "--json"] if json else args


def entries(cli: RunCli, ledger: Path, *, start: int = 0) -> list[dict[str, Any]]:
    result = cli("log", "entries", "--json", "--start", str(start), ledger=ledger)
    assert result.rc == 0, result.stderr
    rows: list[dict[str, Any]] = result.json()
    return rows


def image_entries(cli: RunCli, ledger: Path) -> list[dict[str, Any]]:
    """``{"index", "actor", "source", "license", "consent", "image", ...}`` in log order."""
    found = []
    for row in entries(cli, ledger):
        entry = row["leaf"]["envelope"]["entry"]
        if entry["kind"] == "image.registered":
            found.append({"index": row["index"], "actor": entry["actor"], **entry["body"]})
    return found


def _read_only(ledger: Path) -> contextlib.closing[sqlite3.Connection]:
    uri = f"file:{ledger / 'ledger.db'}?mode=ro"
    return contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30))


def log_size(ledger: Path) -> int:
    with _read_only(ledger) as conn:
        return int(conn.execute("SELECT count(*) FROM log_leaves").fetchone()[0])


def count_images(ledger: Path) -> int:
    """Rows of the images projection, or -1 while the database cannot be read."""
    try:
        with _read_only(ledger) as conn:
            return int(conn.execute("SELECT count(*) FROM images").fetchone()[0])
    except sqlite3.OperationalError:
        return -1


# --- register runs in the background ---------------------------------------------------------


@dataclass
class Background:
    """A ``medledger`` process in its own session, output in files (never a pipe).

    Its own session, so that a Ctrl-C can go to the whole process group as a
    terminal sends it, and so that workers left behind by a SIGKILLed parent can
    be ended with the group. Files, not pipes: such orphans keep inherited pipes
    open, and reading one would never end.
    """

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def stdout(self) -> str:
        return self.out.read_text()

    @property
    def stderr(self) -> str:
        return self.err.read_text()

    def wait(self, timeout: float = 300) -> int:
        return self.proc.wait(timeout=timeout)

    def settle(self, timeout: float = 15) -> None:
        """Give the rest of the group (worker processes) time to finish and print."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)

    def end_group(self) -> None:
        """SIGKILL whatever is left of this process's group (its own workers only)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)


def medledger() -> str:
    here = Path(sys.executable).parent / "medledger"
    return str(here) if here.is_file() else "medledger"


def start(args: list[str], ledger: Path, logs: Path) -> Background:
    logs.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLEDGER_")}
    env.update({"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"})
    n = len(list(logs.glob("*.out")))
    out, err = logs / f"{n}.out", logs / f"{n}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [medledger(), *args, "--ledger", str(ledger)], stdout=stdout, stderr=stderr,
            stdin=subprocess.DEVNULL, env=env, cwd=logs, start_new_session=True,
        )  # fmt: skip
    return Background(proc, out, err)


def wait_for_images(ledger: Path, run: Background, *, at_least: int, timeout: float = 240) -> int:
    """Poll the database (read-only) until it holds ``at_least`` images; fail if the run ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = count_images(ledger)
        if count >= at_least:
            return count
        if run.proc.poll() is not None:
            raise AssertionError(
                f"the run ended (exit {run.proc.returncode}) with {count} images:\n{run.stderr}"
            )
        time.sleep(0.02)
    raise AssertionError(f"fewer than {at_least} images after {timeout} s")
