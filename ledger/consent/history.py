"""Consent history and state from checked leaves.

The consent projections say which entries to read; the facts shown come from those entries'
leaves, each hashed and compared with its stored leaf hash (which the tree, checked by
``verify``, commits to) and parsed here. A projection row that its leaf does not back is a
VerificationError, never shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from ledger.consent.scope import describe, forbidden
from ledger.errors import VerificationError
from ledger.log.hashing import leaf_hash
from ledger.model.consent import image_target
from ledger.store import consent as db
from ledger.store.duplicates import leaves_at


def checked_entries(conn: Connection, idxs: Iterable[int]) -> dict[int, dict[str, Any]]:
    """index -> entry, each from a leaf whose hash matches the stored one."""
    wanted = sorted(set(idxs))
    leaves = leaves_at(conn, wanted)
    out: dict[int, dict[str, Any]] = {}
    for idx in wanted:
        if idx not in leaves:
            raise VerificationError("a consent row names an entry the log does not hold",
                                    index=idx)
        leaf, stored = leaves[idx]
        if leaf_hash(leaf) != stored:
            raise VerificationError("the leaf does not have its stored hash; run medledger "
                                    "verify", index=idx)
        try:
            out[idx] = json.loads(leaf)["envelope"]["entry"]
        except (ValueError, KeyError, TypeError) as exc:
            raise VerificationError("malformed leaf; run medledger verify", index=idx) from exc
    return out


@dataclass(frozen=True)
class Event:
    index: int
    time: str
    actor: str  # key id of the signer
    target: str  # the subject pseudonym or image:<index>
    status: str
    scope: tuple[str, ...]
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "time": self.time, "actor": self.actor,
                "target": self.target, "status": self.status, "scope": list(self.scope),
                "reason": self.reason}  # fmt: skip


def targets_of(body: dict[str, Any]) -> list[str]:
    if body.get("subject") is not None:
        return [str(body["subject"])]
    return [image_target(int(i)) for i in body.get("images") or []]


def events(conn: Connection, targets: Sequence[str]) -> list[Event]:
    """The consent events naming ``targets``, in log order, read from their checked leaves."""
    rows = db.events_of(conn, targets)
    entries = checked_entries(conn, (r["idx"] for r in rows))
    out = []
    for row in rows:
        entry = entries[row["idx"]]
        body = entry.get("body") or {}
        if entry.get("kind") != "consent.changed" or row["target"] not in targets_of(body):
            raise VerificationError(f"consent_events: the row for {row['target'][:40]} is not "
                                    "backed by its entry; run medledger verify",
                                    index=row["idx"])
        out.append(Event(row["idx"], entry["time"], entry["actor"], row["target"],
                         body["status"], tuple(body.get("scope") or ()), body.get("reason")))
    return out


def subject_images(conn: Connection, subject: str) -> list[int]:
    """The images whose checked entry names ``subject`` as its Patient ID pseudonym."""
    indexes = db.images_of_subject(conn, subject)
    check_subjects(conn, {i: subject for i in indexes})
    return indexes


def check_subjects(conn: Connection, subjects: dict[int, str | None]) -> None:
    """VerificationError unless each image's hashed entry names that subject (or none)."""
    for idx, entry in checked_entries(conn, subjects).items():
        names = (entry.get("body") or {}).get("image", {}).get("pseudonyms") or {}
        if entry.get("kind") != "image.registered" or names.get("PatientID") != subjects[idx]:
            raise VerificationError("image_consent: the row's subject is not its entry's; "
                                    "run medledger verify", index=idx)


@dataclass(frozen=True)
class State:
    status: str | None  # None: no consent.changed yet (the registration's consent stands)
    scope: tuple[str, ...] = ()
    since: int | None = None  # the entry that set it
    forbidden_uses: tuple[str, ...] = field(default=())

    @classmethod
    def latest(cls, found: Iterable[Event]) -> State:
        last = max(found, key=lambda e: e.index, default=None)
        if last is None:
            return cls(None)
        return cls(last.status, last.scope, last.index,
                   tuple(forbidden(last.status, last.scope)))

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "scope": list(self.scope),
                "scope_names": describe(self.scope), "since": self.since,
                "forbidden_uses": list(self.forbidden_uses)}  # fmt: skip
