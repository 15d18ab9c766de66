"""Dataset access tiers: grants by a data-access committee, and pin/export behind them.

``pin`` and ``export`` here are the gated forms of ``ledger.service.datasets.pin`` and
``croissant``: an ``open`` version needs nothing and logs nothing; a ``registered`` one
needs the terms accepted, a ``controlled`` one a valid grant for the requesting key; both
append a signed ``dataset.accessed`` entry before the file is handed out. A grant is
looked up in the ``access_grants`` projection, and each row used is re-proven from its own
leaves (hash, inclusion under a fresh checkpoint, body); the sequencer then replays the
rules from the log itself (``ledger.audit.accessrules``), so an edited row cannot open a
version.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from ledger.checkpoints import open_checkpoint
from ledger.crypto.keys import SigningKey
from ledger.crypto.signing import ENTRY_VERSION, encode_sig, sign_entry
from ledger.errors import InputError, PolicyError, VerificationError
from ledger.log.checkpoint import Checkpoint
from ledger.log.hashing import leaf_hash
from ledger.log.proofs import verify_inclusion
from ledger.model.access import ACCESSED, GRANTED, REGISTERED_TERMS, REVOKED, TERMS_SHA256
from ledger.model.canonical import canonical_json
from ledger.model.entry import HEX64, utc_now
from ledger.sequencer import append
from ledger.service import datasets
from ledger.service.ledger import Ledger
from ledger.store import reading
from ledger.store.accesstables import AccessGrantRow
from ledger.store.datasets import leaves_at

__all__ = [
    "REGISTERED_TERMS",
    "Access",
    "GrantInfo",
    "export",
    "grant",
    "grants",
    "parse_until",
    "pin",
    "revoke",
]

_GRANTS = AccessGrantRow.__table__  # type: ignore[attr-defined]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class GrantInfo:
    """One grant as its proven entries say, and its status at ``at``."""

    index: int
    granter: str
    grantee: str
    name: str
    version: int | None
    purpose: str
    not_after: str
    granted: str
    revoked: int | None
    status: str  # active, expired, revoked

    @property
    def scope(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "granter": self.granter, "grantee": self.grantee,
                "dataset": self.scope, "purpose": self.purpose, "not_after": self.not_after,
                "granted": self.granted, "revoked": self.revoked, "status": self.status}


@dataclass(frozen=True)
class Access:
    """What a gated pin or export did: the tier, and the accessed entry (None: open)."""

    label: str
    tier: str
    index: int | None
    grant: int | None

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.label, "tier": self.tier, "accessed_entry": self.index,
                "grant": self.grant}


def parse_until(text: str) -> str:
    """``--until``: a date (valid through that day, UTC) or an RFC 3339 UTC time, as an entry
    time; InputError otherwise."""
    try:
        if _DATE.fullmatch(text):
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
            return day.strftime("%Y-%m-%dT23:59:59.999999Z")
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--until {text!r}: not a date (YYYY-MM-DD) or a UTC time") from None
    if moment.tzinfo is None or moment.utcoffset() != UTC.utcoffset(None):
        raise InputError(f"--until {text!r}: give a date or a UTC time ending in Z")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _scope(text: str) -> tuple[str, int | None]:
    if "@" in text:
        return datasets.parse_label(text)
    return datasets.check_name(text), None


def _key_id(ledger: Ledger, text: str) -> str:
    """A key id, or the name of an active key in the ledger."""
    if re.fullmatch(HEX64, text):
        return text
    return ledger.key_info(text).key_id


def _sign(ledger: Ledger, kind: str, body: dict[str, Any], *, key: SigningKey,
          at: str | None) -> dict[str, Any]:  # fmt: skip
    """``ledger.sign`` with the entry time given (tests and replays; default: now)."""
    entry = {"v": ENTRY_VERSION, "log": ledger.log_id, "kind": kind, "time": at or utc_now(),
             "actor": key.public_key.key_id, "body": body}
    sig = sign_entry(key, canonical_json(entry), version=ENTRY_VERSION)
    return {"entry": entry, "sig": encode_sig(sig)}


def _append(ledger: Ledger, envelope: dict[str, Any]) -> int:
    done = append(ledger.store, [envelope], log_id=ledger.log_id, guard=ledger.guard,
                  after=ledger.checkpoint_if_due, kinds=ledger.kinds,
                  projections=ledger.projections)
    ledger.checkpoint()
    return done[0].index


def grant(ledger: Ledger, scope: str, *, to: str, purpose: str, until: str, key: str,
          at: str | None = None) -> GrantInfo:  # fmt: skip
    """Append a dataset.access_granted entry signed by the dac key ``key``: ``to`` (a key id
    or key name) may use ``scope`` (NAME@V, or NAME for every version) until ``until``."""
    name, version = _scope(scope)
    body = {"grantee": _key_id(ledger, to), "name": name, "version": version,
            "purpose": purpose, "not_after": parse_until(until)}
    index = _append(ledger, _sign(ledger, GRANTED, body, key=ledger.signing_key(key), at=at))
    return _one(ledger, index, at=at)


def revoke(ledger: Ledger, grant_index: int, *, key: str, reason: str = "",
           at: str | None = None) -> GrantInfo:  # fmt: skip
    """Append a dataset.access_revoked entry (dac key ``key``) ending grant ``grant_index``."""
    body = {"grant": grant_index, "reason": reason}
    _append(ledger, _sign(ledger, REVOKED, body, key=ledger.signing_key(key), at=at))
    return _one(ledger, grant_index, at=at)


def _one(ledger: Ledger, index: int, *, at: str | None) -> GrantInfo:
    with reading(ledger.store.engine) as conn:
        rows = [r._mapping for r in
                conn.execute(select(_GRANTS).where(_GRANTS.c.grant_idx == index))]
    return _proven(ledger, rows, at=at)[0]


def grants(ledger: Ledger, name: str, *, at: str | None = None) -> list[GrantInfo]:
    """Every grant for dataset ``name`` (any version), oldest first, each proven from its
    entries, with its status at ``at`` (default: now)."""
    datasets.check_name(name)
    with reading(ledger.store.engine) as conn:
        rows = [r._mapping for r in conn.execute(
            select(_GRANTS).where(_GRANTS.c.name == name).order_by(_GRANTS.c.grant_idx))]
    return _proven(ledger, rows, at=at)


def _proven(ledger: Ledger, rows: list[Any], *, at: str | None) -> list[GrantInfo]:
    """The rows, each checked against its grant (and revocation) leaf, proven included
    under a fresh checkpoint, and its revocation state against every revocation leaf;
    VerificationError if a row says anything else."""
    now = at or utc_now()
    checkpoint = open_checkpoint(ledger.checkpoint(), [ledger.verifier])
    found: list[GrantInfo] = []
    with reading(ledger.store.engine) as conn:
        ended = {json.loads(leaf)["envelope"]["entry"]["body"]["grant"]: index
                 for index, leaf in ledger.store.leaves_of_kinds(conn, [REVOKED])}
        for row in rows:
            if ended.get(row["grant_idx"]) != row["revoked_idx"]:  # a revocation erased
                raise VerificationError("access_grants row differs from its entries "
                                        "(run medledger verify)", index=row["grant_idx"])
            entry = _entry(ledger, conn, row["grant_idx"], checkpoint, GRANTED)
            body = entry["body"]
            said = (entry["actor"], body["grantee"], body["name"], body["version"],
                    body["purpose"], body["not_after"], entry["time"])
            stored = (row["granter"], row["grantee"], row["name"], row["version"],
                      row["purpose"], row["not_after"], row["granted"])
            revoked = row["revoked_idx"]
            ends = None if revoked is None else _entry(ledger, conn, revoked, checkpoint, REVOKED)
            if said != stored or (ends is not None and ends["body"]["grant"] != row["grant_idx"]):
                raise VerificationError("access_grants row differs from its entries "
                                        "(run medledger verify)", index=row["grant_idx"])
            status = ("revoked" if revoked is not None else
                      "expired" if now > body["not_after"] else "active")
            found.append(GrantInfo(row["grant_idx"], entry["actor"], body["grantee"], body["name"],
                                   body["version"], body["purpose"], body["not_after"],
                                   entry["time"], revoked, status))
    return found


def _entry(ledger: Ledger, conn: Connection, index: int, checkpoint: Checkpoint,
           kind: str) -> dict[str, Any]:  # fmt: skip
    """The entry at ``index``, its leaf proven included under ``checkpoint``."""
    if index >= checkpoint.size:
        raise VerificationError(f"access_grants names entry {index}, beyond the log",
                                index=index)
    leaf = next((leaf for i, leaf, _ in leaves_at(conn, [index]) if i == index), None)
    if leaf is None:
        raise VerificationError("access_grants names a missing entry", index=index)
    proof = ledger.inclusion_proof(index, size=checkpoint.size)
    verify_inclusion(index=index, size=checkpoint.size, leaf_hash=leaf_hash(leaf),
                     proof=proof.hashes, root=checkpoint.root)
    entry: dict[str, Any] = json.loads(leaf)["envelope"]["entry"]
    if entry.get("kind") != kind:
        raise VerificationError(f"access_grants row points at a {entry.get('kind')} entry, "
                                f"not {kind}", index=index)
    return entry


def authorize(ledger: Ledger, label: str, *, what: str, key: str | None, purpose: str | None,
              accept_terms: bool, at: str | None = None) -> tuple[datasets.Version, Access,
                                                                 dict[str, Any] | None]:
    """The checked version, and the signed dataset.accessed envelope its tier needs (None
    for open); PolicyError (one line) when the tier's conditions are not met."""
    v = datasets.version(ledger, label)
    label = f"{v.name}@{v.version}"
    if v.tier == "open":
        if key is not None or purpose is not None or accept_terms:
            raise InputError(f"{label} is open: --key, --purpose and --accept-terms do not "
                             "apply (nothing is logged)")
        return v, Access(label, "open", None, None), None
    if key is None:
        raise PolicyError(f"{label} is {v.tier}: --key (the requesting key) is needed")
    signing = ledger.signing_key(key)
    time = at or utc_now()
    grant_used: int | None = None
    if v.tier == "registered":
        if not accept_terms or not purpose:
            raise PolicyError(f"{label} is registered: give --purpose and --accept-terms (the "
                              f"terms: {REGISTERED_TERMS})")
    else:
        if accept_terms:
            raise InputError(f"{label} is controlled: --accept-terms applies to registered "
                             "versions; a controlled one needs a grant")
        chosen = _valid_grant(ledger, v, signing.public_key.key_id, key, purpose, time)
        grant_used, purpose = chosen.index, chosen.purpose
    body = {"accessor": signing.public_key.key_id, "name": v.name, "version": v.version,
            "purpose": purpose, "what": what, "grant": grant_used,
            "terms_sha256": TERMS_SHA256 if v.tier == "registered" else None}
    envelope = _sign(ledger, ACCESSED, body, key=signing, at=time)
    return v, Access(label, v.tier, None, grant_used), envelope


def _valid_grant(ledger: Ledger, v: datasets.Version, key_id: str, key: str,
                 purpose: str | None, time: str) -> GrantInfo:  # fmt: skip
    mine = [g for g in grants(ledger, v.name, at=time)
            if g.grantee == key_id and g.version in (None, v.version)]
    problems = {g.index: _problem(g, purpose, time) for g in mine}
    usable = [g for g in mine if not problems[g.index]]
    if usable:
        return max(usable, key=lambda g: (g.not_after, g.index))
    why = "; ".join(f"grant {i} {p}" for i, p in problems.items()) or "no grant to it"
    raise PolicyError(f"{v.name}@{v.version} is controlled: no valid grant for key {key} "
                      f"({why})")


def _problem(g: GrantInfo, purpose: str | None, time: str) -> str:
    """Why grant ``g`` does not allow an access at ``time`` ("" if it does)."""
    if g.status != "active":
        return g.status
    if g.granted > time:
        return "made after the access time"
    if purpose is not None and g.purpose != purpose:
        return f"is for purpose {g.purpose!r}"
    return ""


def _accessed(ledger: Ledger, access: Access, envelope: dict[str, Any] | None) -> Access:
    if envelope is None:
        return access
    index = _append(ledger, envelope)
    return Access(access.label, access.tier, index, access.grant)


def pin(ledger: Ledger, label: str, *, key: str | None = None, purpose: str | None = None,
        accept_terms: bool = False, at: str | None = None) -> tuple[bytes, Access]:
    """The lock of ``label`` once its tier allows it (dataset.accessed appended when the
    tier is registered or controlled); nothing is appended if the lock cannot be made."""
    _, access, envelope = authorize(ledger, label, what="pin", key=key, purpose=purpose,
                                    accept_terms=accept_terms, at=at)
    data = datasets.pin(ledger, access.label)
    return data, _accessed(ledger, access, envelope)


def export(ledger: Ledger, label: str, manifest_name: str, *, key: str | None = None,
           purpose: str | None = None, accept_terms: bool = False, at: str | None = None
           ) -> tuple[dict[str, Any], bytes, Access]:  # fmt: skip
    """``datasets.croissant`` behind the same gate as ``pin``."""
    _, access, envelope = authorize(ledger, label, what="export", key=key, purpose=purpose,
                                    accept_terms=accept_terms, at=at)
    doc, data = datasets.croissant(ledger, access.label, manifest_name)
    return doc, data, _accessed(ledger, access, envelope)
