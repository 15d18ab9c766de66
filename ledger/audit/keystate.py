"""Replays key.added / key.revoked in log order to decide who may sign what.

The same rules run when an entry is appended (a log never trusts its writer)
and when an auditor replays the log, so the two can never disagree.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Any

from ledger.crypto.edwards import check_public_point
from ledger.crypto.keys import key_id_of
from ledger.errors import InputError, PolicyError
from ledger.model.kinds import KindRegistry
from ledger.model.registry import DEFAULT_KINDS
from ledger.model.roles import Role


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    name: str
    role: Role
    public_key: bytes
    added_idx: int
    revoked_idx: int | None = None

    def active_at(self, index: int) -> bool:
        return self.added_idx < index and (self.revoked_idx is None or index <= self.revoked_idx)


class KeyState:
    """Keys as of some log index; ``check`` then ``apply`` each entry in order."""

    def __init__(self, records: list[KeyRecord] | None = None) -> None:
        self.by_id: dict[str, KeyRecord] = {r.key_id: r for r in records or []}

    def signer(
        self, *, index: int, entry: dict[str, Any], kinds: KindRegistry = DEFAULT_KINDS
    ) -> KeyRecord:
        """The key that may sign ``entry`` at ``index`` (of a kind in ``kinds``);
        PolicyError says why not."""
        actor, kind = entry["actor"], entry["kind"]
        spec = kinds.spec(kind)
        if index == 0:
            return self._genesis(entry)
        record = self.by_id.get(actor)
        if record is None:
            raise PolicyError(f"entry signed by unknown key {actor[:16]}")
        if record.revoked_idx is not None and index > record.revoked_idx:
            raise PolicyError(f"key {record.name} was revoked at index {record.revoked_idx}")
        if record.role not in spec.roles:
            raise PolicyError(f"key {record.name} has role {record.role}; {kind} needs one of "
                              + ", ".join(sorted(spec.roles)))
        return record

    def _genesis(self, entry: dict[str, Any]) -> KeyRecord:
        body = entry["body"]
        if entry["kind"] != "key.added" or body.get("role") != Role.ADMIN:
            raise PolicyError("the first entry must add an admin key")
        if body.get("key_id") != entry["actor"]:
            raise PolicyError("the first entry must be signed by the admin key it adds")
        return self._record_from(index=0, body=body)

    def _record_from(self, *, index: int, body: dict[str, Any]) -> KeyRecord:
        raw = base64.b64decode(body["public_key"], validate=True)
        if len(raw) != 32:
            raise PolicyError(f"key {body['name']}: public key is not 32 bytes")
        if key_id_of(raw) != body["key_id"]:
            raise PolicyError(f"key {body['name']}: key_id does not match its public key")
        try:
            check_public_point(raw)  # a weak key would let anyone sign as it
        except InputError as exc:
            raise PolicyError(f"key {body['name']}: {exc.message}") from None
        return KeyRecord(body["key_id"], body["name"], Role(body["role"]), raw, index)

    def apply(self, *, index: int, entry: dict[str, Any]) -> None:
        """Record the effect of an accepted key entry; other kinds change nothing."""
        kind, body = entry["kind"], entry["body"]
        if kind == "key.added":
            record = self._record_from(index=index, body=body)
            if record.key_id in self.by_id:
                raise PolicyError(f"key {record.name} is already in the ledger")
            if self.active_named(record.name, index=index + 1) is not None:
                raise PolicyError(f"an active key is already named {record.name}")
            self.by_id[record.key_id] = record
        elif kind == "key.revoked":
            target = self.by_id.get(body["key_id"])
            if target is None:
                raise PolicyError(f"cannot revoke unknown key {body['key_id'][:16]}")
            if target.revoked_idx is not None:
                raise PolicyError(f"key {target.name} is already revoked")
            if target.role == Role.ADMIN and not self._other_admin(target.key_id, index=index):
                raise PolicyError(
                    f"key {target.name} is the last active admin key; add another first"
                )
            self.by_id[target.key_id] = replace(target, revoked_idx=index)

    def _other_admin(self, key_id: str, *, index: int) -> bool:
        """Whether an admin other than ``key_id`` may still sign after ``index``."""
        return any(
            r.key_id != key_id and r.role == Role.ADMIN and r.active_at(index + 1)
            for r in self.by_id.values()
        )

    def active_named(self, name: str, *, index: int) -> KeyRecord | None:
        for record in self.by_id.values():
            if record.name == name and record.active_at(index):
                return record
        return None
