"""The dataset commands on a real PostgreSQL: create, versions, diff, pin, verify a copy against
the lock, profile, export, and ``verify`` of the whole ledger (the audit rebuilds the
dataset projections and checks the side table ``dataset_members`` against the signed roots).

The command line runs in-process here, so a server-side cursor left open (a streaming option
set on the whole connection instead of one statement) fails the test as a ResourceWarning."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from ledger.errors import VerificationError
from ledger.service import Ledger
from ledger.service import datasets as service
from ledger.service.datasetcopy import verify_copy

from ..builders import RunCli
from .conftest import register_all, write_images

pytestmark = pytest.mark.postgres


def test_a_dataset_round_trip_on_postgres(tmp_path: Path, postgres_url: str,
                                          cli: RunCli) -> None:
    data = tmp_path / "data"
    write_images(data, seed=31)
    directory = tmp_path / "ledger"
    ledger = Ledger.init(directory, database_url=postgres_url)
    try:
        ledger.add_key("cur", "curator")
        register_all(ledger, [data], key="cur")
        first = service.create(ledger, "knee", key="cur", folder=data)
        assert (first.version.version, first.version.members) == (1, 5)
        members = service.members(ledger, first.version)
        assert sorted(m["path"] for m in members) == [
            "img0.png", "img1.png", "img2.png", "scans/mr.dcm", "scans/photo.jpg"]
        gone = next(m["entry"] for m in members if m["path"] == "img1.png")
        second = service.create(ledger, "knee", key="cur", from_version="knee@1",
                                remove=(str(gone),))
        assert (second.version.version, second.removed, second.added) == (2, 1, 0)
        assert [v.version for v in service.versions(ledger, "knee")] == [1, 2]
        changes = service.diff(ledger, "knee@1", "knee@2").to_json()["changes"]
        assert [(c["change"], c["entry"], c["reason"], c["path"]) for c in changes] == [
            ("removed", gone, "removed by the owner", "img1.png")]
        lock = tmp_path / "knee.lock"
        lock.write_bytes(service.pin(ledger, "knee@1"))
        assert service.pin(ledger, "knee@1") == lock.read_bytes()  # deterministic
        profiled = service.profile(ledger, "knee@2").to_json()
        assert profiled["members"] == 4
        document, manifest = service.croissant(ledger, "knee@2", "manifest.csv")
        assert len(manifest.decode().strip().splitlines()) == 1 + 4  # header and 4 members
        assert document["version"] == "2.0.0"
        ledger.verify()
    finally:
        ledger.store.engine.dispose()

    copy = verify_copy(lock, data, pubkeys=[ledger.verifier.vkey])
    copy.require_match()
    assert copy.report.counts()["ok"] == 5
    (data / "img2.png").unlink()
    damaged = verify_copy(lock, data, pubkeys=[ledger.verifier.vkey])
    assert (damaged.report.counts()["missing"], damaged.report.counts()["ok"]) == (1, 4)
    with pytest.raises(VerificationError):
        damaged.require_match()

    listed = cli("dataset", "versions", "knee", "--json", ledger=directory)
    assert listed.rc == 0, listed.stderr
    assert [v["version"] for v in listed.json()["versions"]] == [1, 2]

    # a member row edited in the side table is found by verify (the signed root disagrees)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE dataset_members SET pixel_sha256 = repeat('0', 64) "
                     "WHERE entry = %s", (gone,))
    tampered = cli("verify", ledger=directory)
    assert tampered.rc == 1
    line = tampered.error_line()  # the member is in knee@1 only (knee@2 removed it)
    assert "dataset knee@1: stored member list" in line
    assert "does not match the signed root" in line
