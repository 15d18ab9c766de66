"""The rules of dataset access, checked when an entry is appended and replayed by ``verify``.

* ``dataset.access_granted`` is signed by a ``dac`` key (not admin: the committee decides
  access, whoever runs the ledger), names an active key and an existing dataset version
  (or a dataset with a version, for every version), and ends after it is made.
* ``dataset.access_revoked`` is signed by a ``dac`` key and names a grant not yet revoked.
* ``dataset.accessed`` is signed by its ``accessor``, of an existing version that is not
  ``open``. ``registered``: the medledger terms' SHA-256 accepted. ``controlled``: a grant
  to this key for this dataset (this version or every one), for the same purpose, made
  before the access and not revoked before it (log order), and whose ``not_after`` is not
  before the access entry's time.

One class holds the rules, so the append and the audit can never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection

from ledger.audit.datasetrules import VERSIONED
from ledger.audit.keystate import KeyRecord, KeyState
from ledger.errors import PolicyError, VerificationError
from ledger.model.access import ACCESS_KINDS, ACCESSED, GRANTED, REVOKED, TERMS_SHA256
from ledger.model.roles import Role
from ledger.store import Store

_KEY_KINDS = ("key.added", "key.revoked")
_STATE_KINDS = (VERSIONED, GRANTED, REVOKED)  # what an append's state is replayed from


@dataclass(frozen=True)
class Grant:
    index: int
    grantee: str
    name: str
    version: int | None
    purpose: str
    not_after: str
    time: str
    revoked: int | None = None

    def covers(self, name: str, version: int) -> bool:
        return self.name == name and self.version in (None, version)


@dataclass
class AccessRules:
    """Version tiers and grants as of some log index; ``check`` then ``apply`` each entry."""

    tiers: dict[tuple[str, int], str] = field(default_factory=dict)
    grants: dict[int, Grant] = field(default_factory=dict)

    def check(self, *, index: int, entry: dict[str, Any], signer: KeyRecord, keys: KeyState
              ) -> None:  # fmt: skip
        """PolicyError if ``signer`` may not append ``entry`` at ``index``."""
        kind, body = entry["kind"], entry["body"]
        if kind in (GRANTED, REVOKED) and signer.role != Role.DAC:
            raise PolicyError(f"key {signer.name} has role {signer.role}; {kind} needs a dac "
                              "(data-access committee) key")
        if kind == GRANTED:
            self._check_grant(index, entry, keys)
        elif kind == REVOKED:
            grant = self.grants.get(body["grant"])
            if grant is None:
                raise PolicyError(f"entry {body['grant']} is not a dataset.access_granted entry")
            if grant.revoked is not None:
                raise PolicyError(f"grant {grant.index} was already revoked at {grant.revoked}")
        elif kind == ACCESSED:
            self._check_access(entry, signer)

    def _check_grant(self, index: int, entry: dict[str, Any], keys: KeyState) -> None:
        body = entry["body"]
        grantee = keys.by_id.get(body["grantee"])
        if grantee is None or not grantee.active_at(index):
            raise PolicyError(f"grantee {body['grantee'][:16]} is not an active key")
        name, version = body["name"], body["version"]
        if version is None and not any(n == name for n, _ in self.tiers):
            raise PolicyError(f"dataset {name!r} has no version")
        if version is not None and (name, version) not in self.tiers:
            raise PolicyError(f"dataset {name} has no version {version}")
        if body["not_after"] <= entry["time"]:
            raise PolicyError(f"not_after {body['not_after']} is not after the grant's time")

    def _check_access(self, entry: dict[str, Any], signer: KeyRecord) -> None:
        body = entry["body"]
        label = f"{body['name']}@{body['version']}"
        if body["accessor"] != signer.key_id:
            raise PolicyError(f"access to {label}: the accessor is not the signing key")
        tier = self.tiers.get((body["name"], body["version"]))
        if tier is None:
            raise PolicyError(f"dataset {body['name']} has no version {body['version']}")
        if tier == "open":
            raise PolicyError(f"{label} is open: its use is not logged")
        if tier == "registered":
            if body["terms_sha256"] != TERMS_SHA256 or body["grant"] is not None:
                raise PolicyError(f"{label} is registered: access needs the medledger terms "
                                  f"accepted (SHA-256 {TERMS_SHA256[:16]}...) and no grant")
            return
        reason = self.grant_problem(body, entry["time"])
        if reason:
            raise PolicyError(f"{label} is controlled: no valid grant for key {signer.name}: "
                              f"{reason}")

    def grant_problem(self, body: dict[str, Any], time: str) -> str:
        """Why the grant an access names does not allow it ("" if it does)."""
        grant = self.grants.get(body["grant"]) if body["grant"] is not None else None
        if grant is None:
            return "no grant named" if body["grant"] is None else \
                f"entry {body['grant']} is not a grant"
        if grant.grantee != body["accessor"]:
            return f"grant {grant.index} is to another key"
        if not grant.covers(body["name"], body["version"]):
            return f"grant {grant.index} is for another dataset or version"
        if grant.revoked is not None:
            return f"grant {grant.index} was revoked at entry {grant.revoked}"
        if time > grant.not_after:
            return f"grant {grant.index} expired at {grant.not_after}"
        if time < grant.time:
            return f"the access is dated before grant {grant.index}"
        if body["purpose"] != grant.purpose:
            return f"grant {grant.index} is for purpose {grant.purpose!r}"
        return ""

    def apply(self, *, index: int, entry: dict[str, Any]) -> None:
        kind, body = entry["kind"], entry["body"]
        if kind == VERSIONED:
            self.tiers[(body["name"], body["version"])] = body["tier"]
        elif kind == GRANTED:
            self.grants[index] = Grant(index, body["grantee"], body["name"], body["version"],
                                       body["purpose"], body["not_after"], entry["time"])
        elif kind == REVOKED:
            grant = self.grants[body["grant"]]
            self.grants[grant.index] = replace(grant, revoked=index)


def access_state(store: Store, conn: Connection, *, end: int | None = None) -> AccessRules:
    """The rules' state from the signed leaves before ``end`` (all when None)."""
    state = AccessRules()
    for index, leaf in store.leaves_of_kinds(conn, _STATE_KINDS, end=end):
        state.apply(index=index, entry=json.loads(leaf)["envelope"]["entry"])
    return state


def check_batch(store: Store, conn: Connection, fresh: Sequence[tuple[int, dict[str, Any]]],
                keys: KeyState) -> None:  # fmt: skip
    """PolicyError naming the first entry of ``fresh`` (index, entry) that breaks the rules;
    ``keys`` as of the batch's end (it has checked each signer already)."""
    if not any(entry["kind"] in ACCESS_KINDS for _, entry in fresh):
        return
    state = access_state(store, conn, end=fresh[0][0])
    for index, entry in fresh:
        if entry["kind"] in ACCESS_KINDS:
            try:
                state.check(index=index, entry=entry, signer=keys.by_id[entry["actor"]],
                            keys=keys)
            except PolicyError as exc:
                exc.subject = exc.subject or f"entry {index}"
                raise
        state.apply(index=index, entry=entry)


def audit_access(store: Store, conn: Connection) -> int:
    """Replay the access rules over the whole log (after the main audit checked every
    signature and signer); VerificationError at the first entry that breaks them. Returns
    how many access entries were checked."""
    keys, state, checked = KeyState(), AccessRules(), 0
    for index, leaf in store.leaves_of_kinds(conn, (*_KEY_KINDS, *_STATE_KINDS, ACCESSED)):
        entry = json.loads(leaf)["envelope"]["entry"]
        try:
            if entry["kind"] in _KEY_KINDS:
                keys.apply(index=index, entry=entry)
                continue
            if entry["kind"] in ACCESS_KINDS:
                signer = keys.by_id.get(entry["actor"])
                if signer is None:
                    raise PolicyError(f"entry signed by unknown key {entry['actor'][:16]}")
                state.check(index=index, entry=entry, signer=signer, keys=keys)
                checked += 1
            state.apply(index=index, entry=entry)
        except PolicyError as exc:
            raise VerificationError(exc.message, index=index) from exc
    return checked
