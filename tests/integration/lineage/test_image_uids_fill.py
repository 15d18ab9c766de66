"""A ledger made before the image_uids table: the table is filled once when it is opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ledger.service import Ledger

from ..builders import attacker
from ..registration.data import pydicom_file
from ..registration.support import ORIGIN, SUBMITTER, make_ledger
from .test_lineage_chain import medledger


def test_an_older_ledger_gets_its_image_uids_on_open(tmp_path: Path) -> None:
    ledger = make_ledger(tmp_path / "ledger")
    files = [pydicom_file("CT_small.dcm"), pydicom_file("MR_small.dcm")]
    code, _, err = medledger("register", *files, "--source", "site-a", *ORIGIN, "--key",
                             SUBMITTER, "--workers", "1", ledger=ledger)
    assert code == 0, err
    with sqlite3.connect(ledger / "ledger.db") as conn:
        want = conn.execute("SELECT idx, sop_uid FROM image_uids ORDER BY idx").fetchall()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert len(want) == 2 and all(uid.startswith("hmac-sha256:") for _, uid in want)
    with attacker(ledger) as conn:  # as a ledger made before the table existed
        conn.execute("DROP TABLE image_uids")
        conn.execute("DELETE FROM meta WHERE key = 'image_uids_filled'")
    opened = Ledger.open(ledger)
    try:
        opened.verify()
    finally:
        opened.store.engine.dispose()
    with sqlite3.connect(ledger / "ledger.db") as conn:
        assert conn.execute("SELECT idx, sop_uid FROM image_uids ORDER BY idx").fetchall() == want
