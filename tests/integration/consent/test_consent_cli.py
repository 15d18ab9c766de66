"""medledger consent set / show / impact through the command line, on deid-data's patients."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..registration.support import RunCli
from .conftest import OFFICER, SUBMITTER, Base


def _log_size(ledger: Path) -> int:
    with sqlite3.connect(f"file:{ledger / 'ledger.db'}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM log_leaves").fetchone()[0])


def _subject_of(cli: RunCli, ledger: Path, index: int) -> str:
    shown = cli("consent", "show", str(index), "--json", ledger=ledger)
    assert shown.rc == 0, shown.stderr
    subject: str = shown.json()["subject"]
    assert subject.startswith("skey-hmac-sha256:")
    return subject


def test_withdrawal_impact_lists_the_subjects_images(
    consent_base: Base, tmp_path: Path, cli: RunCli
) -> None:
    ledger = consent_base.copy(tmp_path / "ledger")
    cookies = consent_base.of_patient(consent_base.files[0].patient_id)
    other = [f for f in consent_base.files if f not in cookies]
    assert len(cookies) == 2 and len(other) == 1
    subject = _subject_of(cli, ledger, cookies[0].index)
    run = cli
    result = run("consent", "set", "--subject", subject, "--status", "withdrawn",
                 "--reason", "subject-request", "--key", OFFICER, "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    withdrawn_at = result.json()["index"]
    impact = run("consent", "impact", subject, "--json", ledger=ledger)
    assert impact.rc == 0, impact.stderr
    found = impact.json()
    assert found["images"] == sorted(f.index for f in cookies)
    assert other[0].index not in found["images"]
    assert found["datasets"] == ["cookies@1"]
    # the same subject named by one of its image files
    by_file = run("consent", "impact", str(cookies[1].path), "--json", ledger=ledger)
    assert by_file.json()["subject"] == subject and by_file.json()["images"] == [cookies[1].index]
    # the state: withdrawn now, nothing before the entry that withdrew it
    now = run("consent", "show", subject, "--json", ledger=ledger).json()
    assert now["state"]["status"] == "withdrawn" and now["state"]["since"] == withdrawn_at
    assert now["state"]["forbidden_uses"] == ["any-use"]
    assert [h["index"] for h in now["history"]] == [withdrawn_at]
    before = run("consent", "show", subject, "--at", str(withdrawn_at - 1), "--json",
                 ledger=ledger).json()
    assert before["state"]["status"] is None and before["history"] == []
    text = run("consent", "show", str(cookies[0].index), ledger=ledger)
    assert "withdrawn since entry" in text.stdout


def test_nmds_scope_forbids_model_development(
    consent_base: Base, tmp_path: Path, cli: RunCli
) -> None:
    ledger = consent_base.copy(tmp_path / "ledger")
    run = cli
    image = consent_base.files[2].index
    result = run("consent", "set", str(image), "--status", "restricted", "--scope", "NMDS",
                 "--scope", "HMB", "--key", OFFICER, "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    assert result.json()["scope"] == ["DUO:0000006", "DUO:0000015"]
    state = run("consent", "show", str(image), "--json", ledger=ledger).json()["state"]
    assert state["status"] == "restricted"
    assert "model-development" in state["forbidden_uses"]


def test_a_consent_entry_signed_without_the_role_is_refused(
    consent_base: Base, tmp_path: Path, cli: RunCli
) -> None:
    ledger = consent_base.copy(tmp_path / "ledger")
    run = cli
    subject = _subject_of(cli, ledger, consent_base.files[0].index)
    size = _log_size(ledger)
    result = run("consent", "set", "--subject", subject, "--status", "withdrawn",
                 "--key", SUBMITTER, ledger=ledger)
    assert result.rc == 2
    assert result.stderr.count("\n") == 1 and "consent-officer" in result.stderr
    assert "Traceback" not in result.stderr
    assert _log_size(ledger) == size


def test_a_consent_entry_naming_an_unknown_subject_or_a_non_image_is_refused(
    consent_base: Base, tmp_path: Path, cli: RunCli
) -> None:
    ledger = consent_base.copy(tmp_path / "ledger")
    run = cli
    size = _log_size(ledger)
    unknown = "skey-hmac-sha256:" + "5" * 64
    result = run("consent", "set", "--subject", unknown, "--status", "withdrawn",
                 "--key", OFFICER, ledger=ledger)
    assert result.rc == 2 and "unknown subject" in result.stderr
    assert result.stderr.count("\n") == 1
    for index in ("1", "999"):  # entry 1 adds a key; 999 does not exist
        result = run("consent", "set", index, "--status", "withdrawn", "--key", OFFICER,
                     ledger=ledger)
        assert result.rc == 2, result.stdout
        assert "is not a registered image" in result.stderr
    assert _log_size(ledger) == size


def test_a_patient_id_is_read_from_a_file_never_printed(
    consent_base: Base, tmp_path: Path, cli: RunCli
) -> None:
    ledger = consent_base.copy(tmp_path / "ledger")
    run = cli
    target = consent_base.files[2]
    id_file = tmp_path / "patient-id.txt"
    id_file.write_text(target.patient_id + "\n")
    result = run("consent", "impact", "--patient-id-file", id_file, "--issuer", target.issuer,
                 "--json", ledger=ledger)
    assert result.rc == 0, result.stderr
    assert result.json()["images"] == [target.index]
    assert target.patient_id not in result.stdout + result.stderr
    id_file.write_text("not-a-patient-of-this-ledger\n")
    missing = run("consent", "impact", "--patient-id-file", id_file, ledger=ledger)
    assert missing.rc == 2 and "not-a-patient" not in missing.stderr


def test_a_row_its_leaf_does_not_back_is_never_shown(
    consent_base: Base, tmp_path: Path, cli: RunCli
) -> None:
    ledger = consent_base.copy(tmp_path / "ledger")
    cookies = consent_base.of_patient(consent_base.files[0].patient_id)
    other = next(f for f in consent_base.files if f not in cookies)
    subject = _subject_of(cli, ledger, cookies[0].index)
    with sqlite3.connect(ledger / "ledger.db") as conn:  # move another image to this subject
        conn.execute("UPDATE image_consent SET subject = ? WHERE image = ?",
                     (subject, other.index))
    for args in (("consent", "impact", subject), ("consent", "show", str(other.index))):
        result = cli(*args, ledger=ledger)
        assert result.rc == 1, args
        assert f"entry {other.index}" in result.stderr and "image_consent" in result.stderr
