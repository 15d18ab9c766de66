"""Entries bound to their log (issue 17): an envelope signed for ledger A is refused by
ledger B that trusts the same key, v1 entries are refused for new appends and read only
before a log's first v2 entry, and a ledger that began with v1 entries keeps verifying."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from ledger.bundle import export_bundle
from ledger.crypto.keys import SigningKey, read_private_key
from ledger.errors import PolicyError, VerificationError
from ledger.service import Ledger

from .builders import RunCli, attacker, opened, snapshot
from .rawlog import write_directly


def _image(n: int) -> dict[str, Any]:
    sha = hashlib.sha256(b"binding-%d" % n).hexdigest()
    return {
        "source": "site-a", "license": "CC0-1.0", "consent": "waived", "dataset": None,
        "image": {
            "v": 1, "file_sha256": sha, "file_size": 1, "format": "png", "pixel_sha256": sha,
            "pixel_form": "grey8", "frame_sha256": [], "metadata": {}, "deid": {},
            "pseudonyms": None, "fingerprints": {}, "preamble": None,
        },
    }  # fmt: skip


def sign_v1(kind: str, body: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """An entry in the old format: no log field, the v1 signing domain."""
    entry = {"v": 1, "kind": kind, "time": "2026-01-02T03:04:05.000006Z",
             "actor": key.public_key.key_id, "body": body}
    sig = key.sign(b"medledger/entry/v1\n" + rfc8785.dumps(entry))
    return {"entry": entry, "sig": base64.b64encode(sig).decode()}


@pytest.fixture
def two_ledgers(tmp_path: Path) -> Iterator[tuple[Path, Path, SigningKey]]:
    """Ledgers A and B; both trust the same "partner" key (its secret is A's)."""
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    for directory in (a_dir, b_dir):
        Ledger.init(directory).store.engine.dispose()
    with opened(a_dir) as a:
        a.add_key("partner", "curator")
    partner = read_private_key(a_dir / "keys" / "partner.key", passphrase=None)
    with opened(b_dir) as b:
        b.add_key("partner", "curator", public_key=partner.public_key.to_b64())
    yield a_dir, b_dir, partner


def _signed_for_a(a_dir: Path, partner: SigningKey) -> dict[str, Any]:
    with opened(a_dir) as a:
        envelope = a.sign("image.registered", _image(1), key=partner)
        assert a.submit([envelope])[0].index == 2  # a real envelope, accepted where it belongs
        assert envelope["entry"]["log"] == a.log_id
    return envelope


def test_entries_name_their_log(tmp_path: Path) -> None:
    with opened(Ledger.init(tmp_path / "l").dir.path) as ledger:
        entry = ledger.sign("key.revoked", {"key_id": "ab" * 32, "reason": ""},
                            key=ledger.signing_key("admin"))["entry"]
        log_key = read_private_key(ledger.dir.log_key, passphrase=None).public_key.raw
    assert entry["v"] == 2
    assert entry["log"] == hashlib.sha256(b"\x01" + log_key).hexdigest()


def test_envelope_for_another_log_is_refused_at_submit(
    two_ledgers: tuple[Path, Path, SigningKey],
) -> None:
    a_dir, b_dir, partner = two_ledgers
    envelope = _signed_for_a(a_dir, partner)
    before = snapshot(b_dir)
    with opened(b_dir) as b:
        with pytest.raises(PolicyError, match="entry is signed for another log") as caught:
            b.submit([envelope])
        assert caught.value.diagnostics().startswith("envelope 0: ")
        assert b.size() == 2
    assert snapshot(b_dir) == before


def test_envelope_for_another_log_written_into_the_database_fails_verify(
    two_ledgers: tuple[Path, Path, SigningKey], run_cli: RunCli
) -> None:
    a_dir, b_dir, partner = two_ledgers
    envelope = _signed_for_a(a_dir, partner)
    assert write_directly(b_dir, [envelope], projected=True) == 2
    result = run_cli("verify", "--json", ledger=b_dir)
    assert result.rc == 1, (result.stdout, result.stderr)
    report = result.json()
    assert report["index"] == 2
    assert "entry is signed for another log" in report["reason"]
    # show needs a checkpoint over the tail, and the log key never signs over this leaf:
    # it exits 1 naming the entry and why, where it said "signature valid" before v2.
    digest = envelope["entry"]["body"]["image"]["file_sha256"]
    shown = run_cli("show", digest, "--json", ledger=b_dir)
    assert shown.rc == 1, shown.stderr
    assert shown.error_line().startswith("medledger: entry 2: ")
    assert "entry is signed for another log" in shown.error_line()
    # Nor will it sign a bundle's checkpoint over it.
    with opened(b_dir) as b, pytest.raises(VerificationError, match="signed for another log"):
        export_bundle(b)


def test_v1_envelope_is_refused_for_a_new_append(
    two_ledgers: tuple[Path, Path, SigningKey],
) -> None:
    _, b_dir, partner = two_ledgers
    before = snapshot(b_dir)
    with opened(b_dir) as b:
        with pytest.raises(PolicyError, match="format v1 is refused for new entries"):
            b.submit([sign_v1("image.registered", _image(2), partner)])
    assert snapshot(b_dir) == before


@pytest.fixture
def old_ledger(tmp_path: Path) -> Path:
    """A ledger whose log was written in the v1 format only, as before v2 existed:
    a v1 genesis and a v1 key.added, with their projections."""
    directory = tmp_path / "old"
    Ledger.init(directory).store.engine.dispose()
    admin = read_private_key(directory / "keys" / "admin.key", passphrase=None)
    with attacker(directory) as conn:  # replace the v2 genesis that init just wrote
        for table in ("log_leaves", "tree_nodes", "checkpoints", "keys"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
    for name in ("checkpoint", "checkpoints", "state.json"):  # a directory from before them
        (directory / name).unlink(missing_ok=True)
    old = SigningKey.generate()
    write_directly(directory, [
        sign_v1("key.added", _key_body("admin", "admin", admin), admin),
        sign_v1("key.added", _key_body("old", "curator", old), admin),
    ], projected=True)
    return directory


def _key_body(name: str, role: str, key: SigningKey) -> dict[str, Any]:
    return {"name": name, "role": role, "public_key": key.public_key.to_b64(),
            "key_id": key.public_key.key_id}


def test_old_v1_log_verifies_and_takes_v2_entries(old_ledger: Path, run_cli: RunCli) -> None:
    first = run_cli("verify", "--json", ledger=old_ledger)
    assert first.rc == 0, first.stderr
    assert first.json()["size"] == 2
    added = run_cli("keys", "add", "new", "--role", "verifier", "--json", ledger=old_ledger)
    assert added.rc == 0, added.stderr
    assert added.json()["added_index"] == 2
    entries = run_cli("log", "entries", "--json", ledger=old_ledger).json()
    assert [e["leaf"]["envelope"]["entry"]["v"] for e in entries] == [1, 1, 2]
    again = run_cli("verify", "--json", ledger=old_ledger)
    assert again.rc == 0, again.stderr
    assert again.json()["size"] == 3


def test_v1_entry_after_a_v2_entry_fails_verify(old_ledger: Path, run_cli: RunCli) -> None:
    with opened(old_ledger) as ledger:
        ledger.add_key("new", "verifier")  # index 2, the log's first v2 entry
    admin = read_private_key(old_ledger / "keys" / "admin.key", passphrase=None)
    late = sign_v1("key.added", _key_body("late", "verifier", SigningKey.generate()), admin)
    assert write_directly(old_ledger, [late], projected=True) == 3
    result = run_cli("verify", "--json", ledger=old_ledger)
    assert result.rc == 1, (result.stdout, result.stderr)
    assert result.json()["index"] == 3
    assert "v1 entry after the log's first v2 entry (index 2)" in result.json()["reason"]
