"""What ``verify`` checks of consent and erasure beyond the compared projections.

Runs after the projection tables were rebuilt from the log and compared row for row, so
they are the log's own facts here:

* the consent rules: a consent.changed entry names registered images (earlier entries) or a
  subject with an earlier image that was not erased before it; a subject.erased entry names a
  subject with an earlier image, erased once;
* the side tables, row by row: a subject key must give its subject's pseudonym (the entries'
  commitment to it) and belong to a subject that has entries and was not erased; a
  demographics row must open the commitment its image's entry holds. Rows that are absent
  are erased (or never made), reported as a count, never as tamper.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ledger.consent.commitment import demographics_commitment
from ledger.errors import VerificationError
from ledger.imaging.pseudonym import subject_pseudonym
from ledger.store import consent as db


def audit_consent(conn: Connection) -> list[str]:
    """VerificationError at the first broken rule or row; returns notes that are not tamper."""
    events, erased, keys = db.all_events(conn), db.all_erased(conn), db.subject_key_rows(conn)
    named = {r["target"] for r in events if not r["target"].startswith("image:")}
    first = db.first_images(conn, named | set(erased) | {subject for subject, _, _ in keys})
    _audit_rules(conn, events, first, erased)
    notes = _audit_keys(keys, first, erased)
    _audit_demographics(conn)
    if erased:
        notes.append(f"{len(erased)} subject(s) erased: their keys and side data are deleted, "
                     "by design (not tamper)")
    return notes


def _audit_rules(conn: Connection, rows: list[dict[str, Any]], first: dict[str, int],
                 erased: dict[str, int]) -> None:
    named = [int(r["target"].removeprefix("image:")) for r in rows
             if r["target"].startswith("image:")]
    registered = db.image_rows(conn, named)
    for row in rows:
        idx, target = row["idx"], row["target"]
        if target.startswith("image:"):
            image = int(target.removeprefix("image:"))
            if image >= idx or image not in registered:
                raise VerificationError(f"consent.changed names entry {image}, which is not a "
                                        "registered image before it", index=idx)
            continue
        if first.get(target, idx) >= idx:
            raise VerificationError("consent.changed names a subject with no earlier image",
                                    index=idx)
        if erased.get(target, idx) < idx:
            raise VerificationError(f"consent.changed names a subject erased at index "
                                    f"{erased[target]}", index=idx)
    for subject, idx in erased.items():
        if first.get(subject, idx) >= idx:
            raise VerificationError("subject.erased names a subject with no earlier image",
                                    index=idx)


def _audit_keys(keys: list[tuple[str, str, bytes]], first: dict[str, int],
                erased: dict[str, int]) -> list[str]:
    unused = 0
    for subject, _tag, key in keys:
        if len(key) != 32 or subject_pseudonym(key) != subject:
            raise VerificationError(f"subject_keys: the key of {subject[:30]}... does not give "
                                    "its pseudonym (tampered)")
        if subject in erased:
            raise VerificationError(f"subject_keys: subject erased at index {erased[subject]} "
                                    "still has its key")
        unused += subject not in first
    if unused:
        return [f"subject_keys: {unused} key(s) of subjects with no entry (a registration "
                "stopped before its batch was appended)"]
    return []


def _audit_demographics(conn: Connection) -> None:
    committed = db.image_demographics(conn)
    for row in db.demographics_rows(conn):
        values = {k: v for k, v in (("PatientAgeBand", row["age_band"]),
                                    ("PatientSex", row["sex"])) if v is not None}
        try:
            opened = demographics_commitment(row["salt"], values)
        except ValueError:
            opened = ""
        where = committed.get(row["commitment"])
        if opened != row["commitment"] or where is None or where[1] != row["subject"]:
            raise VerificationError("subject_demographics: a row does not open the commitment "
                                    "of its image's entry (tampered)",
                                    index=None if where is None else where[0])
