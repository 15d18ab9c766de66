"""Per-subject keys at registration: find or make each subject's key, derive its pseudonyms.

Workers hand the parent a ``SubjectMaterial`` (lookup tag, keyed UID material; in memory).
``resolve`` finds each tag's key in the ``subject_keys`` side table or draws a new random one;
``pseudonymised`` turns a file's facts into what is signed; ``record`` runs inside the append
transaction (under the write lock) and stores the new keys and demographics, or raises
StorageError (the caller retries) when another run or an erasure changed a subject meanwhile.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from ledger.consent.commitment import demographics_commitment
from ledger.errors import StorageError
from ledger.imaging.pseudonym import (
    SUBJECT_KEY_BYTES,
    SubjectMaterial,
    keyed_pseudonyms,
    subject_pseudonym,
)
from ledger.store import consent as db
from ledger.store import reading


@dataclass(frozen=True)
class SubjectKey:
    tag: str
    subject: str
    key: bytes
    new: bool


def resolve(conn: Connection, materials: Iterable[SubjectMaterial]) -> dict[str, SubjectKey]:
    """tag -> the subject's key: the stored one, or a fresh random key (stored by ``record``)."""
    tags = {m.tag for m in materials}
    known = db.keys_by_tag(conn, tags)
    out: dict[str, SubjectKey] = {}
    for tag in sorted(tags):
        if tag in known:
            subject, key = known[tag]
            out[tag] = SubjectKey(tag, subject, key, new=False)
        else:
            key = secrets.token_bytes(SUBJECT_KEY_BYTES)
            out[tag] = SubjectKey(tag, subject_pseudonym(key), key, new=True)
    return out


def pseudonymised(facts: dict[str, Any], material: SubjectMaterial, key: SubjectKey
                  ) -> tuple[dict[str, Any], dict[str, Any] | None]:  # fmt: skip
    """The facts to sign (pseudonyms under the subject's key) and the demographics side row."""
    names = keyed_pseudonyms(material, key.key)
    row = None
    if material.demographics:
        values = dict(material.demographics)
        salt = secrets.token_hex(16)
        names["Demographics"] = demographics_commitment(salt, values)
        row = {"commitment": names["Demographics"], "subject": key.subject, "salt": salt,
               "sex": values.get("PatientSex"), "age_band": values.get("PatientAgeBand")}
    return facts | {"pseudonyms": names}, row


def record(conn: Connection, used: Sequence[SubjectKey], demographics: Sequence[dict[str, Any]]
           ) -> None:  # fmt: skip
    """Store the new keys and the demographics in the append's transaction; StorageError (the
    batch is retried from ``resolve``) if a subject was made or erased meanwhile."""
    unique = {k.tag: k for k in used}
    present = db.keys_by_tag(conn, unique)
    erased = db.erased_at(conn, [k.subject for k in unique.values()])
    fresh = []
    for tag, key in sorted(unique.items()):
        if tag in present:
            if present[tag][0] != key.subject:
                raise StorageError("a subject's key was made by another run meanwhile; retrying")
            continue
        if key.subject in erased:
            raise StorageError("a subject was erased meanwhile; retrying with a new key")
        fresh.append({"subject": key.subject, "tag": tag, "key": key.key})
    db.insert_keys(conn, fresh)
    db.insert_demographics(conn, demographics)


class _Analysed(Protocol):
    @property
    def facts(self) -> dict[str, Any] | None: ...
    @property
    def subject(self) -> SubjectMaterial | None: ...


class SubjectBatch:
    """A registration batch's subjects: keys resolved before signing, stored at append."""

    def __init__(self, engine: Engine, items: Sequence[_Analysed]) -> None:
        with reading(engine) as conn:
            self.keys = resolve(conn, [i.subject for i in items if i.subject is not None])
        self._facts: dict[int, dict[str, Any]] = {}
        self._demographics: list[dict[str, Any]] = []
        for item in items:
            if item.facts is None:
                raise ValueError("a refused file has no facts")
            facts = item.facts
            if item.subject is not None:
                facts, row = pseudonymised(facts, item.subject, self.keys[item.subject.tag])
                self._demographics += [row] if row is not None else []
            self._facts[id(item)] = facts

    def facts(self, item: _Analysed) -> dict[str, Any]:
        """What is signed for ``item``: its facts with pseudonyms under its subject's key."""
        return self._facts[id(item)]

    def record(self, conn: Connection) -> None:
        record(conn, list(self.keys.values()), self._demographics)
