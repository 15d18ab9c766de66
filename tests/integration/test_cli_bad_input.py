"""Bad input: exit 2, one ``medledger: ...`` line on stderr, no traceback, nothing written."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from .builders import RunCli, build, snapshot

READING_COMMANDS = [
    ("keys", "list"),
    ("keys", "export", "admin"),
    ("log", "pubkey"),
    ("log", "entries"),
    ("checkpoint",),
    ("proof", "inclusion", "0"),
    ("proof", "consistency", "0"),
    ("verify",),
]


@pytest.mark.parametrize("args", READING_COMMANDS, ids=" ".join)
def test_missing_ledger_directory(tmp_path: Path, run_cli: RunCli, args: tuple[str, ...]) -> None:
    missing = tmp_path / "no-such-ledger"
    result = run_cli(*args, ledger=missing)
    assert result.rc == 2
    line = result.error_line()
    assert str(missing) in line and "no ledger here" in line
    assert not missing.exists()


def test_default_directory_is_dot_medledger(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("keys", "list")
    assert result.rc == 2
    assert ".medledger" in result.error_line()
    assert list((tmp_path / "cwd").iterdir()) == []
    made = run_cli("init", "--json")
    assert made.rc == 0, made.stderr
    assert (tmp_path / "cwd" / ".medledger" / "config.json").is_file()
    assert run_cli("keys", "list", "--json").rc == 0


def test_ledger_directory_from_the_environment(ledger_dir: Path, run_cli: RunCli) -> None:
    result = run_cli("keys", "list", "--json", env={"MEDLEDGER_DIR": str(ledger_dir)})
    assert result.rc == 0, result.stderr
    assert [k["name"] for k in result.json()] == ["admin"]


def test_bundle_export_into_missing_ledger_writes_nothing(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("bundle", "export", tmp_path / "b.json", ledger=tmp_path / "nope")
    assert result.rc == 2
    result.error_line()
    assert not (tmp_path / "b.json").exists()


@pytest.mark.parametrize(
    "args",
    [("proof", "inclusion", "99"), ("proof", "inclusion", "0", "--size", "99"),
     ("proof", "inclusion", "3", "--size", "2"), ("proof", "consistency", "3", "2"),
     ("proof", "consistency", "0", "99"), ("proof", "inclusion", "0", "--format", "xml")],
    ids=["index-beyond-log", "size-beyond-log", "index-beyond-size", "old-above-new",
         "new-beyond-log", "unknown-format"],
)
def test_bad_proof_arguments(
    tmp_path: Path, run_cli: RunCli, args: tuple[str, ...]
) -> None:
    directory = build(tmp_path / "ledger", upto=3)
    before = snapshot(directory)
    result = run_cli(*args, ledger=directory)
    assert result.rc == 2, (result.stdout, result.stderr)
    line = result.error_line()
    assert any(a in line for a in args[2:] if a.isdigit() or a == "xml"), line
    assert result.stdout == ""
    assert snapshot(directory) == before


@pytest.mark.parametrize("index", ["abc", "1.5"])
def test_index_that_is_not_a_number(ledger_dir: Path, run_cli: RunCli, index: str) -> None:
    result = run_cli("proof", "inclusion", index, ledger=ledger_dir)
    assert result.rc == 2
    assert "Traceback" not in result.stderr
    assert "Invalid value for 'index'" in result.stderr  # click's usage error


@pytest.mark.parametrize("url", ["mysql://user@localhost/db", "redis://x", "no-scheme"])
def test_unknown_database_url(tmp_path: Path, run_cli: RunCli, url: str) -> None:
    directory = tmp_path / "ledger"
    result = run_cli("init", "--database-url", url, ledger=directory)
    assert result.rc == 2
    line = result.error_line()
    assert (url.split(":")[0] if "://" in url else url) in line
    assert not directory.exists()


def test_unreachable_database_leaves_nothing_behind(tmp_path: Path, run_cli: RunCli) -> None:
    """A failed init leaves no half-made ledger that a retry would call 'already there'."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once we leave: nobody listens there
    directory = tmp_path / "ledger"
    url = f"postgresql://postgres@127.0.0.1:{port}/nowhere"
    result = run_cli("init", "--database-url", url, ledger=directory)
    assert result.rc == 2
    assert "nowhere" in result.error_line()
    assert snapshot(directory) == {}
    retry = run_cli("init", ledger=directory)
    assert retry.rc == 0, retry.stderr


def test_init_twice_is_refused(ledger_dir: Path, run_cli: RunCli) -> None:
    before = snapshot(ledger_dir)
    result = run_cli("init", ledger=ledger_dir)
    assert result.rc == 2
    assert "already holds a ledger" in result.error_line()
    assert snapshot(ledger_dir) == before


def test_missing_database_file_is_not_recreated(ledger_dir: Path, run_cli: RunCli) -> None:
    (ledger_dir / "ledger.db").unlink()
    before = snapshot(ledger_dir)
    result = run_cli("keys", "list", ledger=ledger_dir)
    assert result.rc == 2
    result.error_line()
    assert snapshot(ledger_dir) == before
    assert not (ledger_dir / "ledger.db").exists()


@pytest.mark.parametrize(
    "config",
    ["{not json", json.dumps({"format": "other/v1", "database_url": "sqlite:///x"}),
     json.dumps({"format": "medledger-config/v1"}), "[]"],
    ids=["not-json", "wrong-format", "no-url", "a-list"],
)
def test_corrupt_config(ledger_dir: Path, run_cli: RunCli, config: str) -> None:
    (ledger_dir / "config.json").write_text(config)
    before = snapshot(ledger_dir)
    result = run_cli("keys", "list", ledger=ledger_dir)
    assert result.rc == 2
    assert "config.json" in result.error_line()
    assert snapshot(ledger_dir) == before


def test_not_a_ledger_database(ledger_dir: Path, run_cli: RunCli) -> None:
    (ledger_dir / "ledger.db").unlink()
    (ledger_dir / "ledger.db").write_bytes(b"this is not a database" * 100)
    before = snapshot(ledger_dir)
    result = run_cli("verify", ledger=ledger_dir)
    assert result.rc == 2
    result.error_line()
    assert snapshot(ledger_dir) == before


@pytest.mark.parametrize(
    "args",
    [("checkpoint", "verify", "{missing}", "--pubkey", "{vkey}"),
     ("checkpoint", "verify", "{garbage}", "--pubkey", "{vkey}"),
     ("checkpoint", "verify", "{note}", "--pubkey", "not-a-key"),
     ("verify", "--checkpoint", "{missing}", "--ledger", "{ledger}"),
     ("verify", "--checkpoint", "{garbage}", "--ledger", "{ledger}")],
    ids=["missing-file", "malformed-note", "malformed-key", "verify-missing-checkpoint",
         "verify-malformed-checkpoint"],
)
def test_bad_checkpoint_input(
    ledger_dir: Path, run_cli: RunCli, tmp_path: Path, args: tuple[str, ...]
) -> None:
    note = tmp_path / "note.txt"
    note.write_text(run_cli("checkpoint", ledger=ledger_dir).stdout)
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("hello\n\nworld\n")
    values = {"missing": tmp_path / "missing.txt", "garbage": garbage, "note": note,
              "vkey": run_cli("log", "pubkey", ledger=ledger_dir).stdout.strip(),
              "ledger": ledger_dir}
    before = snapshot(tmp_path)
    result = run_cli(*(a.format(**values) for a in args))
    assert result.rc == 2, (result.stdout, result.stderr)
    result.error_line()
    assert snapshot(tmp_path) == before
