"""The ledger directory: private files whatever the umask, a copy that is its own ledger,
no database password at rest, and one escaped line for every refusal."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.directory import LedgerDir
from ledger.errors import InputError
from ledger.store.url import PASSWORD_ENV, with_password, without_password

from .builders import RunCli, attacker, build, snapshot


def modes(directory: Path) -> dict[str, int]:
    return {str(p.relative_to(directory)): stat.S_IMODE(p.stat().st_mode)
            for p in [directory, *directory.rglob("*")]}  # fmt: skip


@contextlib.contextmanager
def reader_held_open(directory: Path) -> Iterator[None]:
    """A reader in WAL mode: SQLite keeps -wal and -shm (created with the database's mode)."""
    with contextlib.closing(sqlite3.connect(directory / "ledger.db")) as conn:
        conn.execute("SELECT count(*) FROM log_leaves").fetchone()
        yield


def under_umask_000(*args: str | Path, ledger: Path) -> None:
    exe = Path(sys.executable).parent / "medledger"  # the venv's console script
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLEDGER_")}
    proc = subprocess.run(
        ["sh", "-c", 'umask 000 && exec "$@"', "sh", str(exe), *map(str, args),
         "--ledger", str(ledger)],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_private_files_under_umask_000(tmp_path: Path) -> None:
    directory = tmp_path / "ledger"
    under_umask_000("init", ledger=directory)
    with reader_held_open(directory):
        under_umask_000("keys", "add", "alice", "--role", "submitter", ledger=directory)
        under_umask_000("checkpoint", ledger=directory)
        found = modes(directory)
    for name in ("ledger.db-wal", "ledger.db-shm", "keys/alice.key", "checkpoint.lock"):
        assert name in found, sorted(found)
    wrong = {name: oct(mode) for name, mode in found.items()
             if mode != (0o700 if (directory / name).is_dir() else 0o600)}  # fmt: skip
    assert not wrong, wrong
    assert found["."] == 0o700 and found["keys"] == 0o700


def test_a_readable_secret_is_refused(tmp_path: Path) -> None:
    directory = build(tmp_path / "ledger", upto=1)
    (directory / "secret").chmod(0o644)
    with pytest.raises(InputError, match="accessible by group or others"):
        LedgerDir(directory).secret()
    (directory / "secret").chmod(0o600)
    assert len(LedgerDir(directory).secret()) == 32


def test_register_refuses_a_readable_secret(tmp_path: Path, cli: RunCli) -> None:
    from .registration.data import make_photos
    from .registration.support import make_ledger, register_args

    directory = make_ledger(tmp_path / "ledger")
    (directory / "secret").chmod(0o644)
    photo = make_photos(tmp_path / "photos")[0]
    result = cli(*register_args(photo), ledger=directory)
    assert result.rc == 2
    line = result.error_line()
    assert "secret" in line and "chmod 600" in line
    assert "0644" in line


# --- a copied ledger is its own -------------------------------------------------------------


def test_config_names_the_database_relative_to_the_directory(tmp_path: Path) -> None:
    directory = build(tmp_path / "ledger", upto=1)
    config = json.loads((directory / "config.json").read_text())
    assert config == {"format": "medledger-config/v1", "database": "ledger.db"}


def test_a_tampered_copy_fails_and_the_original_does_not(tmp_path: Path, cli: RunCli) -> None:
    original = build(tmp_path / "original", upto=4)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    with attacker(copy) as db:
        db.execute("UPDATE log_leaves SET leaf = replace(leaf, 'alice', 'alicf') WHERE idx = 1")
    tampered = cli("verify", "--json", ledger=copy)
    assert tampered.rc == 1
    assert tampered.json()["index"] == 1
    assert cli("verify", ledger=original).rc == 0


def _old_style(directory: Path, database: Path) -> None:
    """A config as medledger wrote it before: the database by absolute URL."""
    config = {"format": "medledger-config/v1", "database_url": f"sqlite:///{database}"}
    (directory / "config.json").write_text(json.dumps(config))


def test_an_old_absolute_config_keeps_working(tmp_path: Path, cli: RunCli) -> None:
    directory = build(tmp_path / "ledger", upto=2)
    _old_style(directory, directory.resolve() / "ledger.db")
    assert cli("verify", ledger=directory).rc == 0


def test_a_copy_with_an_old_absolute_config_is_refused(tmp_path: Path, cli: RunCli) -> None:
    original = build(tmp_path / "original", upto=2)
    _old_style(original, original.resolve() / "ledger.db")
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    before = snapshot(copy)
    result = cli("verify", ledger=copy)
    assert result.rc == 2
    line = result.error_line()
    assert "a copied ledger?" in line and str(original.resolve() / "ledger.db") in line
    assert snapshot(copy) == before


def test_an_external_sqlite_database_stays_as_given(tmp_path: Path, cli: RunCli) -> None:
    elsewhere = tmp_path / "db" / "shared.db"
    elsewhere.parent.mkdir()
    build(tmp_path / "ledger", upto=1, database_url=f"sqlite:///{elsewhere}")
    config = json.loads((tmp_path / "ledger" / "config.json").read_text())
    assert config["database_url"] == f"sqlite:///{elsewhere}"
    assert cli("verify", ledger=tmp_path / "ledger").rc == 0


# --- no password at rest ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "bare"),
    [
        ("postgresql+psycopg://u:s3cr%40t@db:5432/x", "postgresql+psycopg://u@db:5432/x"),
        ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_without_password(url: str, bare: str) -> None:
    assert without_password(url)[0] == bare
    assert without_password(url)[1] is (bare != url)


def test_with_password_from_the_environment() -> None:
    assert with_password("postgresql+psycopg://u@db/x", "p@ss") == (
        "postgresql+psycopg://u:p%40ss@db/x")
    assert with_password("postgresql+psycopg://u:given@db/x", "env") == (
        "postgresql+psycopg://u:given@db/x")
    assert with_password("postgresql+psycopg://u@db/x", None) == "postgresql+psycopg://u@db/x"


@pytest.mark.postgres
def test_init_keeps_no_password(
    tmp_path: Path, postgres_url: str, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "ledger"
    with_secret = postgres_url.replace("postgres@", "postgres:hunter2@")
    made = run_cli("init", "--database-url", with_secret, ledger=directory)
    assert made.rc == 0, made.stderr
    config = (directory / "config.json").read_text()
    assert "hunter2" not in config and "postgres@" in config
    assert PASSWORD_ENV in made.stderr
    assert "hunter2" not in made.stdout + made.stderr
    monkeypatch.setenv(PASSWORD_ENV, "hunter2")
    assert ":hunter2@" in LedgerDir(directory).database_url()
    opened = run_cli("verify", ledger=directory, env={PASSWORD_ENV: "hunter2"})
    assert opened.rc == 0, opened.stderr
