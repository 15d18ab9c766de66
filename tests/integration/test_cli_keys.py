"""Keys and roles from the command line: add, list, revoke, export, and who may sign."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path
from typing import Any

import pytest

from ledger.crypto.keys import SigningKey, write_private_key

from .builders import RunCli, snapshot


def key_id(public_b64: str) -> str:
    return hashlib.sha256(b"\x01" + base64.b64decode(public_b64)).hexdigest()


def test_add_list_export_revoke(ledger_dir: Path, run_cli: RunCli) -> None:
    added = run_cli("keys", "add", "alice", "--role", "submitter", "--json", ledger=ledger_dir)
    assert added.rc == 0, added.stderr
    info = added.json()
    assert set(info) == {"name", "role", "key_id", "public_key", "added_index", "revoked_index"}
    assert (info["name"], info["role"], info["added_index"], info["revoked_index"]) == (
        "alice", "submitter", 1, None)
    assert info["key_id"] == key_id(info["public_key"])
    private = ledger_dir / "keys" / "alice.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600

    listed = run_cli("keys", "list", "--json", ledger=ledger_dir).json()
    assert [(k["name"], k["role"], k["revoked_index"]) for k in listed] == [
        ("admin", "admin", None), ("alice", "submitter", None)]
    assert listed[1] == info

    exported = run_cli("keys", "export", "alice", ledger=ledger_dir)
    assert exported.rc == 0
    assert exported.stdout == info["public_key"] + "\n"
    assert private.read_text() not in exported.stdout
    assert run_cli("keys", "export", "alice", "--json", ledger=ledger_dir).json() == info

    revoked = run_cli("keys", "revoke", "alice", "--reason", "lost laptop", "--json",
                      ledger=ledger_dir)
    assert revoked.rc == 0, revoked.stderr
    assert revoked.json() == {**info, "revoked_index": 2}
    table = run_cli("keys", "list", ledger=ledger_dir).stdout
    assert "revoked at 2" in table
    assert run_cli("keys", "export", "alice", "--json", ledger=ledger_dir).json()[
        "revoked_index"] == 2
    entries = run_cli("log", "entries", "--json", ledger=ledger_dir).json()
    assert entries[2]["leaf"]["envelope"]["entry"]["body"] == {
        "key_id": info["key_id"], "reason": "lost laptop"}


def test_text_output(ledger_dir: Path, run_cli: RunCli) -> None:
    added = run_cli("keys", "add", "bob", "--role", "curator", ledger=ledger_dir)
    assert added.rc == 0
    assert added.stdout.startswith("bob (curator, active) key id ")


def test_add_someone_elses_public_key(ledger_dir: Path, cli: RunCli) -> None:
    outside = SigningKey.generate().public_key
    result = cli("keys", "add", "partner", "--role", "verifier", "--public-key",
                 outside.to_b64(), "--json", ledger=ledger_dir)
    assert result.rc == 0, result.stderr
    assert result.json()["key_id"] == key_id(outside.to_b64())
    assert not (ledger_dir / "keys" / "partner.key").exists()


def refused(result: Any, *, code: int = 2) -> str:
    assert result.rc == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    return result.error_line()


def test_submitter_cannot_add_keys(ledger_dir: Path, cli: RunCli) -> None:
    cli("keys", "add", "alice", "--role", "submitter", ledger=ledger_dir)
    before = snapshot(ledger_dir)
    line = refused(cli("keys", "add", "eve", "--role", "admin", "--by", "alice",
                       ledger=ledger_dir))
    assert "alice" in line and "submitter" in line
    assert snapshot(ledger_dir) == before
    line = refused(cli("keys", "revoke", "admin", "--by", "alice", ledger=ledger_dir))
    assert snapshot(ledger_dir) == before


def test_revoked_key_cannot_sign_after_its_revocation(ledger_dir: Path, cli: RunCli) -> None:
    assert cli("keys", "add", "second", "--role", "admin", ledger=ledger_dir).rc == 0
    # While active, it signs.
    assert cli("keys", "add", "helper", "--role", "verifier", "--by", "second",
               ledger=ledger_dir).rc == 0
    assert cli("keys", "revoke", "second", ledger=ledger_dir).rc == 0
    before = snapshot(ledger_dir)
    line = refused(cli("keys", "add", "late", "--role", "verifier", "--by", "second",
                       ledger=ledger_dir))
    assert "second" in line and "revoked at index 3" in line
    assert snapshot(ledger_dir) == before
    assert not (ledger_dir / "keys" / "late.key").exists()


def test_unknown_key_cannot_sign(ledger_dir: Path, cli: RunCli) -> None:
    # A well-formed key file whose key the log never added.
    write_private_key(ledger_dir / "keys" / "ghost.key", SigningKey.generate(), passphrase=None)
    before = snapshot(ledger_dir)
    line = refused(cli("keys", "add", "x", "--role", "verifier", "--by", "ghost",
                       ledger=ledger_dir))
    assert "unknown key" in line
    assert snapshot(ledger_dir) == before


def test_last_admin_cannot_be_revoked(ledger_dir: Path, cli: RunCli) -> None:
    before = snapshot(ledger_dir)
    line = refused(cli("keys", "revoke", "admin", ledger=ledger_dir))
    assert "last active admin" in line
    assert snapshot(ledger_dir) == before
    assert cli("keys", "add", "admin2", "--role", "admin", ledger=ledger_dir).rc == 0
    assert cli("keys", "revoke", "admin", "--by", "admin2", ledger=ledger_dir).rc == 0
    refused(cli("keys", "revoke", "admin2", "--by", "admin2", ledger=ledger_dir))
    assert cli("verify", ledger=ledger_dir).rc == 0


def test_names_are_unique_among_active_keys(ledger_dir: Path, cli: RunCli) -> None:
    assert cli("keys", "add", "alice", "--role", "curator", ledger=ledger_dir).rc == 0
    before = snapshot(ledger_dir)
    line = refused(cli("keys", "add", "alice", "--role", "verifier", ledger=ledger_dir))
    assert "alice" in line
    assert snapshot(ledger_dir) == before


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "revoke", "nobody"),
        ("keys", "export", "nobody"),
        ("keys", "add", "x", "--role", "verifier", "--by", "nobody"),
        ("keys", "add", "x", "--role", "king"),
        ("keys", "add", "../escape", "--role", "verifier"),
        ("keys", "add", "has space", "--role", "verifier"),
        ("keys", "add", "x", "--role", "verifier", "--public-key", "bm90IGEga2V5"),
        ("keys", "add", "x", "--role", "verifier", "--by", "../admin"),
    ],
    ids=["revoke-unknown", "export-unknown", "sign-with-unknown", "bad-role", "path-in-name",
         "space-in-name", "bad-public-key", "path-in-signer"],
)
def test_bad_key_arguments(ledger_dir: Path, run_cli: RunCli, args: tuple[str, ...]) -> None:
    parent = snapshot(ledger_dir.parent)
    line = refused(run_cli(*args, ledger=ledger_dir))
    assert len(line) < 300
    assert snapshot(ledger_dir.parent) == parent
    if "--role" in args and "king" in args:
        assert "'king'" in line and "submitter" in line
