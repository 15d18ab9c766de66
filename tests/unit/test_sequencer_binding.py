"""The sequencer's log binding, including the worker-process check of large batches."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from ledger.crypto.keys import SigningKey
from ledger.errors import PolicyError
from ledger.model.registry import DEFAULT_KINDS
from ledger.sequencer import _check_envelopes, append
from ledger.service import Ledger
from ledger.store import reading


def _signed(key: SigningKey, entry: dict[str, Any], domain: bytes) -> dict[str, Any]:
    sig = key.sign(domain + rfc8785.dumps(entry))
    return {"entry": entry, "sig": base64.b64encode(sig).decode()}


def _key_added(name: str) -> dict[str, Any]:
    public = SigningKey.generate().public_key
    return {"name": name, "role": "verifier", "public_key": public.to_b64(),
            "key_id": public.key_id}


def _key_entry(key: SigningKey, *, v: int, log: str | None) -> dict[str, Any]:
    """A key.added by ``key`` in format ``v`` (an entry any admin may append)."""
    entry: dict[str, Any] = {"v": v, "kind": "key.added", "time": "2026-01-02T03:04:05.000006Z",
                             "actor": key.public_key.key_id, "body": _key_added("other")}
    if log is not None:
        entry["log"] = log
    return _signed(key, entry, b"medledger/entry/v%d\n" % v)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger.init(tmp_path / "ledger")
    yield opened
    opened.store.engine.dispose()


def test_worker_check_verifies_each_version_under_its_own_domain(ledger: Ledger) -> None:
    key = SigningKey.generate()
    raw = key.public_key.raw
    v2 = _key_entry(key, v=2, log=ledger.log_id)
    v1 = _key_entry(key, v=1, log=None)
    v2_signed_as_v1 = {**v2, "sig": _key_entry(key, v=1, log=None)["sig"]}
    results = _check_envelopes([v2, v1, v2_signed_as_v1], {key.public_key.key_id: raw},
                               DEFAULT_KINDS)
    assert [r[4] if r is not None else None for r in results] == [True, True, False]


def test_append_refuses_another_log_and_v1_naming_the_envelope(ledger: Ledger) -> None:
    admin = ledger.signing_key("admin")
    with reading(ledger.store.engine) as conn:
        before = ledger.store.tail(conn)
    good = ledger.sign("key.added", _key_added("good"), key=admin)
    for bad, message in [
        (_key_entry(admin, v=2, log="cd" * 32), "entry is signed for another log"),
        (_key_entry(admin, v=1, log=None), "entry format v1 is refused for new entries"),
    ]:
        with pytest.raises(PolicyError, match=message) as caught:
            append(ledger.store, [good, bad], log_id=ledger.log_id, guard=ledger.guard)
        assert caught.value.diagnostics().startswith("envelope 1: ")
        with reading(ledger.store.engine) as conn:
            assert ledger.store.tail(conn) == before  # all or nothing
