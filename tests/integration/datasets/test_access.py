"""Dataset access tiers: grants by a dac key, pin/export behind them, the rules below the
service, and what verify finds (issue 20).

One ledger is built per module: three synthetic PNGs registered by the curator ``cur`` and
versioned three times from the same folder, as ``ct@1`` (controlled), ``reg@1``
(registered) and ``pub@1`` (open). Every test that grants uses its own grantee key, so the
tests do not depend on each other's order; a test that tampers works on a copy.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ledger.errors import InputError, PolicyError, VerificationError
from ledger.model.access import REGISTERED_TERMS
from ledger.service import Ledger, datasetcopy
from ledger.service import datasetaccess as access
from ledger.service import datasets as versions
from ledger.service.registration import RegisterOptions, register

from ..builders import RunCli, attacker

GRANTEES = ("alice", "bob", "carol", "dave", "erin", "frank")
T_GRANT = "2027-01-01T09:00:00.000000Z"
T_INSIDE = "2027-01-15T12:00:00.000000Z"
T_AFTER = "2027-02-01T00:00:00.000000Z"  # after --until 2027-01-31


@dataclass(frozen=True)
class Built:
    ledger: Path
    data: Path
    vkey: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("access")
    data = root / "data"
    data.mkdir()
    rng = np.random.default_rng(7)
    for n in range(3):
        Image.fromarray(rng.integers(0, 256, (20, 24), dtype=np.uint8)).save(
            data / f"scan-{n}.png")
    ledger = Ledger.init(root / "ledger")
    try:
        ledger.add_key("cur", "curator")
        ledger.add_key("dac", "dac")
        for name in GRANTEES:
            ledger.add_key(name, "verifier")
        summary = register(ledger, [data], RegisterOptions(
            source="site-a", license="CC0-1.0", consent="consented", key="cur", workers=1))
        assert not summary.refused, summary.refused
        for name, tier in (("ct", "controlled"), ("reg", "registered"), ("pub", "open")):
            versions.create(ledger, name, key="cur", folder=data, tier=tier)
        vkey = root / "log.vkey"
        vkey.write_text(ledger.verifier.vkey + "\n")
    finally:
        ledger.store.engine.dispose()
    return Built(root / "ledger", data, vkey)


@pytest.fixture(scope="module")
def shared(built: Built) -> Iterator[Ledger]:
    opened = Ledger.open(built.ledger)
    yield opened
    opened.store.engine.dispose()


@pytest.fixture
def copy(built: Built, tmp_path: Path) -> Iterator[Ledger]:
    """A copy of the module's ledger, for a test that tampers with it."""
    opened = Ledger.open(shutil.copytree(built.ledger, tmp_path / "ledger"))
    yield opened
    opened.store.engine.dispose()


def _entry(ledger: Ledger, index: int) -> dict[str, Any]:
    """The signed entry at ``index``, read from its leaf."""
    (found,) = ledger.entries(start=index, end=index + 1)
    entry: dict[str, Any] = found["leaf"]["envelope"]["entry"]
    return entry


def _size(ledger: Ledger) -> int:
    return ledger.size()


def test_pin_of_a_controlled_version_needs_a_grant_valid_until_expiry(shared: Ledger) -> None:
    with pytest.raises(PolicyError, match=r"^ct@1 is controlled: --key"):
        access.pin(shared, "ct@1")
    with pytest.raises(PolicyError, match=r"ct@1 is controlled: no valid grant for key alice "
                                          r"\(no grant to it\)"):
        access.pin(shared, "ct@1", key="alice", purpose="triage model", at=T_INSIDE)
    made = access.grant(shared, "ct@1", to="alice", purpose="triage model", until="2027-01-31",
                        key="dac", at=T_GRANT)
    assert (made.not_after, made.status) == ("2027-01-31T23:59:59.999999Z", "active")
    data, used = access.pin(shared, "ct@1", key="alice", at=T_INSIDE)
    assert (used.tier, used.grant) == ("controlled", made.index)
    assert used.index is not None
    logged = _entry(shared, used.index)
    alice = shared.key_info("alice").key_id
    assert logged["kind"] == "dataset.accessed" and logged["actor"] == alice
    assert logged["body"] == {"accessor": alice, "name": "ct", "version": 1,
                              "purpose": "triage model", "what": "pin", "grant": made.index,
                              "terms_sha256": None}
    assert b'"paths":"omitted"' in data
    size = _size(shared)
    with pytest.raises(PolicyError, match=rf"no valid grant for key alice \(grant "
                                          rf"{made.index} expired\)"):
        access.pin(shared, "ct@1", key="alice", at=T_AFTER)
    with pytest.raises(PolicyError, match=rf"\(grant {made.index} is for purpose 'triage "
                                          r"model'\)"):
        access.pin(shared, "ct@1", key="alice", purpose="something else", at=T_INSIDE)
    assert _size(shared) == size  # refused: nothing appended


def test_a_revoked_grant_opens_nothing_through_the_cli(built: Built, shared: Ledger,
                                                      cli: RunCli, tmp_path: Path) -> None:
    bob = shared.key_info("bob").key_id
    lock = tmp_path / "ct.lock"
    refused = cli("dataset", "pin", "ct@1", "-o", lock, "--key", "bob", "--purpose", "x",
                      ledger=built.ledger)
    assert refused.rc == 2
    assert "ct@1 is controlled: no valid grant for key bob" in refused.error_line()
    assert not lock.exists()
    granted = cli("dataset", "grant", "ct", "--to", bob, "--purpose", "audit",
                      "--until", "2099-12-31", "--key", "dac", "--json", ledger=built.ledger)
    assert granted.rc == 0, granted.stderr
    index = json.loads(granted.stdout)["index"]
    pinned = cli("dataset", "pin", "ct@1", "-o", lock, "--key", "bob", "--purpose",
                     "audit", "--json", ledger=built.ledger)
    assert pinned.rc == 0, pinned.stderr
    assert json.loads(pinned.stdout)["access"]["grant"] == index and lock.is_file()
    revoked = cli("dataset", "revoke", str(index), "--key", "dac", ledger=built.ledger)
    assert revoked.rc == 0, revoked.stderr
    listed = cli("dataset", "grants", "ct", "--json", ledger=built.ledger)
    mine = [g for g in json.loads(listed.stdout)["grants"] if g["index"] == index]
    assert mine[0]["status"] == "revoked" and mine[0]["dataset"] == "ct"
    lock.unlink()
    again = cli("dataset", "pin", "ct@1", "-o", lock, "--key", "bob", ledger=built.ledger)
    assert again.rc == 2
    assert f"(grant {index} revoked)" in again.error_line()
    assert not lock.exists()


def test_only_a_dac_key_grants_or_revokes(shared: Ledger) -> None:
    for signer in ("cur", "admin"):
        with pytest.raises(PolicyError, match=r"dataset\.access_granted needs one of dac$"):
            access.grant(shared, "ct@1", to="carol", purpose="p", until="2099-01-01",
                         key=signer)
    made = access.grant(shared, "ct@1", to="carol", purpose="p", until="2099-01-01", key="dac")
    with pytest.raises(PolicyError, match=r"dataset\.access_revoked needs one of dac"):
        access.revoke(shared, made.index, key="admin")
    with pytest.raises(PolicyError, match="ct has no version 9"):
        access.grant(shared, "ct@9", to="carol", purpose="p", until="2099-01-01", key="dac")
    with pytest.raises(InputError, match="not a date"):
        access.grant(shared, "ct@1", to="carol", purpose="p", until="soon", key="dac")


def test_the_sequencer_refuses_an_access_without_a_valid_grant(shared: Ledger) -> None:
    """Below the service: a hand-signed dataset.accessed naming another key's grant."""
    made = access.grant(shared, "ct@1", to="dave", purpose="p", until="2099-01-01", key="dac")
    erin = shared.signing_key("erin")
    body = {"accessor": erin.public_key.key_id, "name": "ct", "version": 1, "purpose": "p",
            "what": "pin", "grant": made.index, "terms_sha256": None}
    envelope = shared.sign("dataset.accessed", body, key=erin)
    size = _size(shared)
    with pytest.raises(PolicyError, match=rf"no valid grant for key erin: grant {made.index} "
                                          "is to another key"):
        shared.submit([envelope])
    for tier_label, grant in (("pub", None), ("reg", None)):
        forged = {**body, "name": tier_label, "grant": grant}
        with pytest.raises(PolicyError, match=rf"{tier_label}@1 is (open|registered)"):
            shared.submit([shared.sign("dataset.accessed", forged, key=erin)])
    assert _size(shared) == size  # all refused, nothing appended


def test_registered_needs_the_terms_accepted_and_logs_them(shared: Ledger) -> None:
    with pytest.raises(PolicyError, match=r"reg@1 is registered: give --purpose and "
                                          "--accept-terms"):
        access.pin(shared, "reg@1", key="frank", purpose="teaching")
    data, used = access.pin(shared, "reg@1", key="frank", purpose="teaching",
                            accept_terms=True)
    assert used.tier == "registered" and used.index is not None and used.grant is None
    body = _entry(shared, used.index)["body"]
    assert body["terms_sha256"] == hashlib.sha256(REGISTERED_TERMS.encode()).hexdigest()
    assert (body["what"], body["purpose"]) == ("pin", "teaching")
    assert b'"path":"scan-0.png"' in data  # not controlled: paths kept


def test_open_needs_nothing_and_logs_nothing(shared: Ledger, tmp_path: Path) -> None:
    size = _size(shared)
    data, used = access.pin(shared, "pub@1")
    doc, _, exported = access.export(shared, "pub@1", "pub.members.csv")
    assert used.index is None and exported.index is None and doc["name"]
    assert _size(shared) == size and b'"paths"' not in data
    with pytest.raises(InputError, match="pub@1 is open: --key"):
        access.pin(shared, "pub@1", key="frank")


def test_export_of_a_controlled_version_is_logged(shared: Ledger) -> None:
    access.grant(shared, "ct@1", to="frank", purpose="benchmark", until="2099-01-01",
                 key="dac")
    _, manifest, used = access.export(shared, "ct@1", "ct.members.csv", key="frank")
    assert used.index is not None
    assert _entry(shared, used.index)["body"]["what"] == "export"
    assert b"scan-" not in manifest  # the manifest names no files either


def test_a_controlled_lock_names_no_files_and_verifies_a_renamed_copy(
        built: Built, shared: Ledger, tmp_path: Path) -> None:
    access.grant(shared, "ct", to="erin", purpose="qa", until="2099-01-01", key="dac")
    data, _ = access.pin(shared, "ct@1", key="erin")
    text = data.decode()
    assert "scan-" not in text and '"path"' not in text and '"paths":"omitted"' in text
    lock = tmp_path / "ct.lock"
    lock.write_bytes(data)
    folder = tmp_path / "copy"
    folder.mkdir()
    for n, path in enumerate(sorted(built.data.iterdir())):
        shutil.copyfile(path, folder / f"renamed-{n}.png")  # other names: never "moved"
    result = datasetcopy.verify_copy(lock, folder, pubkeys=[str(built.vkey)],
                                     strict_bytes=False, workers=1)
    result.require_match()
    assert [f.status for f in result.report.files] == ["ok", "ok", "ok"]
    (folder / "renamed-0.png").unlink()
    missing = datasetcopy.verify_copy(lock, folder, pubkeys=[str(built.vkey)],
                                      strict_bytes=False, workers=1)
    with pytest.raises(VerificationError, match="1 missing"):
        missing.require_match()
    claimed = text.replace('"paths":"omitted",\n', "")
    lock.write_text(claimed)
    with pytest.raises(VerificationError, match="does not say its paths are omitted"):
        datasetcopy.verify_copy(lock, folder, pubkeys=[str(built.vkey)], strict_bytes=False,
                                workers=1)


def test_verify_names_a_tampered_grant_row(copy: Ledger) -> None:
    made = access.grant(copy, "ct@1", to="alice", purpose="p", until="2027-01-31",
                        key="dac", at=T_GRANT)
    copy.verify()  # the rules replay: every grant and access so far is valid
    copy.store.engine.dispose()  # SQLite folds its WAL back before the attacker opens it
    with attacker(copy.dir.path) as db:
        db.execute("UPDATE access_grants SET not_after = '2099-12-31T23:59:59.999999Z' "
                   "WHERE grant_idx = ?", (made.index,))
    with pytest.raises(VerificationError) as caught:
        copy.verify()
    assert caught.value.diagnostics().startswith(
        f"access_grants: entry {made.index}, column not_after: stored '2099-12-31")
    with pytest.raises(VerificationError, match="access_grants row differs"):
        access.pin(copy, "ct@1", key="alice", at=T_AFTER)


@pytest.mark.postgres
def test_grants_pin_and_verify_on_postgres(built: Built, tmp_path: Path,
                                           postgres_url: str) -> None:
    """The same flow on a real PostgreSQL: the projection's update, the rules, the audit."""
    import psycopg

    ledger = Ledger.init(tmp_path / "pg", database_url=postgres_url)
    try:
        ledger.add_key("cur", "curator")
        ledger.add_key("dac", "dac")
        ledger.add_key("alice", "verifier")
        summary = register(ledger, [built.data], RegisterOptions(
            source="site-a", license="CC0-1.0", consent="consented", key="cur", workers=1))
        assert not summary.refused, summary.refused
        versions.create(ledger, "ct", key="cur", folder=built.data, tier="controlled")
        made = access.grant(ledger, "ct@1", to="alice", purpose="p", until="2099-01-01",
                            key="dac")
        data, used = access.pin(ledger, "ct@1", key="alice")
        assert used.grant == made.index and b'"paths":"omitted"' in data
        ended = access.revoke(ledger, made.index, key="dac")
        with pytest.raises(PolicyError, match=rf"\(grant {made.index} revoked\)"):
            access.pin(ledger, "ct@1", key="alice")
        ledger.verify()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("UPDATE access_grants SET revoked_idx = NULL")
        with pytest.raises(VerificationError) as caught:
            ledger.verify()
        assert caught.value.diagnostics() == (  # named by the revocation that sets it
            f"access_grants: entry {ended.revoked}, column revoked_idx: stored None, the log "
            f"says {ended.revoked}")
    finally:
        ledger.store.engine.dispose()


def test_an_erased_revocation_in_the_table_opens_nothing(copy: Ledger) -> None:
    """The projection says the grant stands: the service checks the row against the
    revocation leaves, and the sequencer replays the signed leaves whatever the service
    does."""
    made = access.grant(copy, "ct@1", to="alice", purpose="p", until="2099-01-01", key="dac")
    ended = access.revoke(copy, made.index, key="dac")
    copy.store.engine.dispose()
    with attacker(copy.dir.path) as db:
        db.execute("UPDATE access_grants SET revoked_idx = NULL WHERE grant_idx = ?",
                   (made.index,))
    with pytest.raises(VerificationError, match="access_grants row differs") as caught:
        access.grants(copy, "ct")
    assert caught.value.index == made.index
    alice = copy.signing_key("alice")
    body = {"accessor": alice.public_key.key_id, "name": "ct", "version": 1, "purpose": "p",
            "what": "pin", "grant": made.index, "terms_sha256": None}
    size = _size(copy)
    with pytest.raises(PolicyError, match=rf"grant {made.index} was revoked at entry "
                                          rf"{ended.revoked}"):
        copy.submit([copy.sign("dataset.accessed", body, key=alice)])
    assert _size(copy) == size
