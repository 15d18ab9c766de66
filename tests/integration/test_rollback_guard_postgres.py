"""The rollback guard on a real PostgreSQL: a restored older database, and a truncation by
an attacker who disables the append-only triggers, are refused before anything is signed."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ledger.store.tables import APPEND_ONLY_TABLES

from .builders import SIZE, RunCli, build, extend, opened
from .rollback import truncate

pytestmark = pytest.mark.postgres

GUARDED = ("checkpoint", "checkpoints", "state.json")


def guarded(directory: Path) -> dict[str, bytes]:
    return {n: (directory / n).read_bytes() for n in GUARDED if (directory / n).exists()}


@contextlib.contextmanager
def pg_attacker(url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(url) as conn:
        for table in APPEND_ONLY_TABLES:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield conn  # committed when the block ends


def counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        leaves = conn.execute("SELECT count(*) FROM log_leaves").fetchone()
        notes = conn.execute("SELECT count(*) FROM checkpoints").fetchone()
    assert leaves is not None and notes is not None
    return int(leaves[0]), int(notes[0])


def refused(result: RunCli, *sizes: int) -> None:
    assert result.rc == 1, (result.stdout, result.stderr)
    line = result.error_line()
    assert "does not extend" in line, line
    for size in sizes:
        assert f"size {size}" in line, line


def test_restored_older_database_then_append_is_refused(
    tmp_path: Path, postgres_url: str, cli: RunCli
) -> None:
    directory = build(tmp_path / "ledger", upto=3, database_url=postgres_url)
    old = postgres_url.rsplit("/", 1)[0] + "/" + postgres_url.rsplit("/", 1)[1] + "_old"
    admin = postgres_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:  # a backup of the size-3 database
        conn.execute(f'CREATE DATABASE "{old.rsplit("/", 1)[1]}" '
                     f'TEMPLATE "{postgres_url.rsplit("/", 1)[1]}"')
    extend(directory, SIZE)
    config = json.loads((directory / "config.json").read_text())
    config["database_url"] = old  # the operator restores the backup
    (directory / "config.json").write_text(json.dumps(config))
    remembered, before = guarded(directory), counts(old)

    refused(cli("keys", "add", "x", "--role", "verifier", ledger=directory), 3, SIZE)
    refused(cli("checkpoint", ledger=directory), 3, SIZE)
    assert counts(old) == before
    assert guarded(directory) == remembered

    recovered = cli("recover", "--key", "admin", "--reason", "restored", ledger=directory)
    assert recovered.rc == 0, recovered.stderr
    assert cli("keys", "add", "x", "--role", "verifier", ledger=directory).rc == 0
    assert cli("verify", ledger=directory).rc == 0


def test_truncate_then_checkpoint_is_refused(
    tmp_path: Path, postgres_url: str, cli: RunCli
) -> None:
    directory = build(tmp_path / "ledger", database_url=postgres_url)
    remembered = guarded(directory)
    with pg_attacker(postgres_url) as conn:
        truncate(conn, keep=4, param="%s")  # the key.revoked entry (4) goes with it
    before = counts(postgres_url)
    refused(cli("checkpoint", ledger=directory), 4, SIZE)
    refused(cli("keys", "add", "x", "--role", "verifier", "--by", "carol", ledger=directory),
            4, SIZE)
    assert counts(postgres_url) == before
    assert guarded(directory) == remembered
    with opened(directory) as ledger:
        assert ledger.size() == 4
