"""Weak (small-order) public keys at the command line and in a log written around the
sequencer (issue 17): refused when added, found by the audit when already in a log."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from ledger.crypto.keys import read_private_key

from .builders import RunCli, opened, snapshot
from .rawlog import write_directly

IDENTITY_B64 = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
ORDER_8_HEX = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"


def test_identity_key_is_refused_at_keys_add(ledger_dir: Path, run_cli: RunCli) -> None:
    before = snapshot(ledger_dir)
    result = run_cli("keys", "add", "partner", "--role", "verifier", "--public-key",
                     IDENTITY_B64, ledger=ledger_dir)
    assert result.rc == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "public key is of small order (weak key)" in result.error_line()
    assert len(result.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert snapshot(ledger_dir) == before


def test_order_8_key_is_refused_at_keys_add(ledger_dir: Path, cli: RunCli) -> None:
    before = snapshot(ledger_dir)
    key = base64.b64encode(bytes.fromhex(ORDER_8_HEX)).decode()
    result = cli("keys", "add", "partner", "--role", "verifier", "--public-key", key,
                 ledger=ledger_dir)
    assert result.rc == 2
    assert "small order" in result.error_line()
    assert snapshot(ledger_dir) == before


def test_weak_key_written_into_the_log_is_found_by_verify(ledger_dir: Path,
                                                          run_cli: RunCli) -> None:
    raw = base64.b64decode(IDENTITY_B64)
    body = {"name": "partner", "role": "verifier", "public_key": IDENTITY_B64,
            "key_id": hashlib.sha256(b"\x01" + raw).hexdigest()}
    with opened(ledger_dir) as ledger:
        ledger.add_key("alice", "submitter")
        admin = read_private_key(ledger_dir / "keys" / "admin.key", passphrase=None)
        envelope = ledger.sign("key.added", body, key=admin)  # a valid admin signature
    index = write_directly(ledger_dir, [envelope])
    assert index == 2
    result = run_cli("verify", "--json", ledger=ledger_dir)
    assert result.rc == 1, (result.stdout, result.stderr)
    report = result.json()
    assert report["ok"] is False
    assert report["index"] == 2
    assert "key partner: public key is of small order (weak key)" in report["reason"]
    assert "entry 2:" in result.error_line()
