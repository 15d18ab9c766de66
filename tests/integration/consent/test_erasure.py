"""Erasure keeps the chain and unlinks the subject.

The attacker here holds the repository secret and the erased patient's real identifiers
(deid-data's fake Patient ID, issuer and UIDs, read from the files with pydicom). From them
they compute everything the ledger could ever have stored about that patient: the raw
values, the v1 pseudonyms (keyed by the secret), the v2 subject lookup tags and UID material
(keyed by the secret). Each is searched, as text and as raw bytes, in every row of every
table, in every file of the ledger directory (the SQLite file and its -wal) and in a fresh
bundle with its leaves decoded. Before erasure the same search finds the subject's tag
(the test can fail); after it, nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import sqlite3
from pathlib import Path

from ledger.imaging.pseudonym import pseudonym, subject_tag
from ledger.service import Ledger

from ..registration.support import RunCli
from ..registration.test_no_phi import reader_held_open
from .conftest import OFFICER, Base, File

_MATERIAL = b"medledger-uid-material/v2\x00"


def _secret(ledger: Path) -> bytes:
    opened = Ledger.open(ledger, passphrase=None)
    try:
        return opened.dir.secret()
    finally:
        opened.store.engine.dispose()


def _needles(secret: bytes, files: list[File]) -> dict[str, bytes]:
    """name -> bytes to search for: every value the identifiers and the secret give."""
    out: dict[str, bytes] = {}

    def add(name: str, hex_digest: str) -> None:
        out[f"{name} (hex)"] = hex_digest.encode()
        out[f"{name} (raw)"] = bytes.fromhex(hex_digest)

    for f in files:
        subject = f"{f.issuer}\x00{f.patient_id}"
        out[f"PatientID {f.patient_id[:3]}..."] = f.patient_id.encode()
        add("v1 patient pseudonym", pseudonym(secret, "patient-id", subject).split(":")[1])
        add("v2 subject tag", subject_tag(secret, "patient-id", subject))
        for uid in f.uids:
            out[f"UID {uid[:8]}..."] = uid.encode()
            add(f"v1 uid pseudonym {uid[:8]}", pseudonym(secret, "uid", uid).split(":")[1])
            add(f"v2 uid material {uid[:8]}",
                hmac.new(secret, _MATERIAL + uid.encode(), hashlib.sha256).hexdigest())
            add(f"v2 study tag {uid[:8]}", subject_tag(secret, "study", uid))
    return out


def _database_rows(ledger: Path) -> bytes:
    """Every value of every row of every table, as text and raw bytes."""
    parts: list[bytes] = []
    with sqlite3.connect(f"file:{ledger / 'ledger.db'}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert {"subject_keys", "image_consent", "log_leaves"} <= set(tables)
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from sqlite
                for value in row:
                    parts.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\n".join(parts)


def _directory_files(ledger: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(ledger.rglob("*")) if p.is_file())


def _bundle_text(bundle: Path) -> bytes:
    document = json.loads(bundle.read_bytes())
    leaves = [base64.b64decode(v) for v in document["leaves"]]
    return bundle.read_bytes() + b"\n" + b"\n".join(leaves)


def _found(needles: dict[str, bytes], haystacks: dict[str, bytes]) -> list[str]:
    return sorted(f"{name} in {where}" for name, needle in needles.items()
                  for where, hay in haystacks.items() if needle in hay)


def test_after_erasure_nothing_links_the_entries_to_the_patient(
    consent_base: Base, tmp_path: Path, cli: RunCli
) -> None:
    ledger = consent_base.copy(tmp_path / "ledger")
    erased = consent_base.of_patient(consent_base.files[0].patient_id)
    kept = [f for f in consent_base.files if f not in erased]
    secret = _secret(ledger)
    needles, control = _needles(secret, erased), _needles(secret, kept)

    before = {"database": _database_rows(ledger), "ledger directory": _directory_files(ledger)}
    found_before = _found(needles, before)  # the search works: the subject's tag is there
    assert {"v2 subject tag (hex) in database",
            "v2 subject tag (hex) in ledger directory"} <= set(found_before)
    early = tmp_path / "before.json"
    assert cli("bundle", "export", early, ledger=ledger).rc == 0
    pubkey = cli("log", "pubkey", "--json", ledger=ledger).json()["vkey"]

    id_file = tmp_path / "id.txt"
    id_file.write_text(erased[0].patient_id)
    with reader_held_open(ledger):  # SQLite keeps its -wal while another connection is open
        result = cli("consent", "erase", "--patient-id-file", id_file, "--issuer",
                     erased[0].issuer, "--reason", "subject-request", "--key", OFFICER, "--json",
                     ledger=ledger)
        assert result.rc == 0, result.stderr
        assert _found(needles, {"ledger directory": _directory_files(ledger)}) == []
    erased_at = result.json()["index"]
    assert result.json()["keys_deleted"] == 1
    assert erased[0].patient_id not in result.stdout + result.stderr

    late = tmp_path / "after.json"
    assert cli("bundle", "export", late, ledger=ledger).rc == 0
    after = {"database": _database_rows(ledger), "ledger directory": _directory_files(ledger),
             "bundle": _bundle_text(late)}
    assert _found(needles, after) == []
    # the other patient is still linkable (their key stands): the search still finds keys
    assert "v2 subject tag (hex) in database" in _found(control, after)

    # the chain, every checkpoint and the projections still verify, old bundle too
    verified = cli("verify", ledger=ledger)
    assert verified.rc == 0, verified.stderr
    assert "erased" in verified.stderr  # said, as a warning: not tamper
    for bundle in (early, late):
        checked = cli("verify", "--bundle", bundle, "--pubkey", pubkey, ledger=None)
        assert checked.rc == 0, (bundle.name, checked.stderr)

    # show of an affected entry says so; the subject can no longer be found or changed
    shown = cli("show", erased[0].path, ledger=ledger)
    assert f"subject erased at index {erased_at}" in shown.stdout
    again = cli("consent", "impact", "--patient-id-file", id_file, "--issuer", erased[0].issuer,
                ledger=ledger)
    assert again.rc == 2
    by_image = cli("consent", "show", str(erased[0].index), "--json", ledger=ledger).json()
    subject = by_image["subject"]
    assert by_image["erased_at"] == erased_at
    refused = cli("consent", "set", "--subject", subject, "--status", "granted",
                  "--key", OFFICER, ledger=ledger)
    assert refused.rc == 2 and f"subject erased at index {erased_at}" in refused.stderr


def test_a_registration_of_the_erased_patient_starts_a_new_unlinked_subject(
    consent_base: Base, tmp_path: Path, cli: RunCli
) -> None:
    ledger = consent_base.copy(tmp_path / "ledger")
    first = consent_base.files[0]
    old = cli("consent", "show", str(first.index), "--json", ledger=ledger).json()["subject"]
    assert cli("consent", "erase", old, "--key", OFFICER, ledger=ledger).rc == 0
    result = cli("register", first.path, "--source", "site-b", "--license", "CC-BY-4.0",
                 "--consent", "consented", "--key", "uploader", "--workers", "1", "--json",
                 ledger=ledger)
    assert result.rc == 0, result.stderr
    new_index = result.json()["entries"]["first"]
    new = cli("consent", "show", str(new_index), "--json", ledger=ledger).json()
    assert new["subject"] != old and new["erased_at"] is None
    assert cli("verify", ledger=ledger).rc == 0


def test_tampered_consent_rows_and_subject_keys_are_reported_by_verify(
    consent_base: Base, tmp_path: Path, cli: RunCli
) -> None:
    base = tmp_path / "base"
    consent_base.copy(base)
    image = consent_base.files[2].index
    assert cli("consent", "set", str(image), "--status", "withdrawn", "--key", OFFICER,
               ledger=base).rc == 0
    subject = cli("consent", "show", str(consent_base.files[0].index), "--json",
                  ledger=base).json()["subject"]
    assert cli("consent", "erase", subject, "--key", OFFICER, ledger=base).rc == 0
    assert cli("verify", ledger=base).rc == 0
    tampers = {
        "consent_events": "UPDATE consent_events SET status = 'granted'",
        "image_consent": f"UPDATE image_consent SET status = 'granted' WHERE image = {image}",  # noqa: S608 - a test constant
        "erased_subjects": "DELETE FROM erased_subjects",
        "subject_keys": "UPDATE subject_keys SET key = zeroblob(32)",
    }
    for n, (table, statement) in enumerate(tampers.items()):
        copy = tmp_path / f"t{n}"
        shutil.copytree(base, copy)
        with sqlite3.connect(copy / "ledger.db") as conn:
            assert conn.execute(statement).rowcount >= 1, table
        result = cli("verify", ledger=copy)
        assert result.rc == 1, (table, result.stdout, result.stderr)
        assert table in result.stderr, (table, result.stderr)
    # absent side rows are erasure, never tamper
    copy = tmp_path / "deleted"
    shutil.copytree(base, copy)
    with sqlite3.connect(copy / "ledger.db") as conn:
        assert conn.execute("DELETE FROM subject_keys").rowcount >= 1
    assert cli("verify", ledger=copy).rc == 0
