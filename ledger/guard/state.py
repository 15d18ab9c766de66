"""The key and policy state that appends are judged by, and its snapshot DIR/state.json.

The state is a pure function of the log: key entries replayed by ``KeyState`` and
``policy.changed`` entries, each read from the signed leaf. The snapshot is the state
as of a tree this ledger signed (its size and root are in the file), so an append
only replays the leaves after it, never the editable ``keys`` or ``meta`` tables.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.audit.keystate import KeyRecord, KeyState
from ledger.errors import InputError
from ledger.model.roles import Role

STATE_NAME = "state.json"
STATE_FORMAT = "medledger-state/v1"


@dataclass
class Trusted:
    """Keys and policy as of the tree of ``size`` leaves with ``root``."""

    size: int
    root: bytes
    keys: KeyState
    policy: dict[str, Any] = field(default_factory=dict)

    def apply(self, *, index: int, entry: dict[str, Any]) -> None:
        """The effect of an accepted entry (its signer already checked by ``keys.signer``)."""
        self.keys.apply(index=index, entry=entry)
        if entry["kind"] == "policy.changed":
            self.policy[entry["body"]["setting"]] = entry["body"]["value"]

    def copy(self) -> Trusted:
        return Trusted(self.size, self.root, KeyState(list(self.keys.by_id.values())),
                       dict(self.policy))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "size": self.size,
            "root": self.root.hex(),
            "keys": [_record_json(r) for r in self.keys.by_id.values()],
            "policy": self.policy,
        }

    @classmethod
    def from_json(cls, value: Any, *, where: str) -> Trusted:
        try:
            if value.get("format") != STATE_FORMAT:
                raise ValueError(f"unknown format {value.get('format')!r}")
            records = [
                KeyRecord(
                    str(k["key_id"]), str(k["name"]), Role(k["role"]),
                    base64.b64decode(k["public_key"], validate=True),
                    int(k["added_idx"]),
                    None if k["revoked_idx"] is None else int(k["revoked_idx"]),
                )
                for k in value["keys"]
            ]
            policy = dict(value["policy"])
            return cls(int(value["size"]), bytes.fromhex(value["root"]), KeyState(records),
                       policy)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{where}: malformed key and policy snapshot ({exc})") from exc


def _record_json(record: KeyRecord) -> dict[str, Any]:
    return {
        "key_id": record.key_id,
        "name": record.name,
        "role": str(record.role),
        "public_key": base64.b64encode(record.public_key).decode(),
        "added_idx": record.added_idx,
        "revoked_idx": record.revoked_idx,
    }


def read_snapshot(directory: Path) -> Trusted | None:
    """The snapshot, or None when there is none or it is unreadable (a crash while it was
    replaced): it only saves work, so the state is then rebuilt from the leaves."""
    path = directory / STATE_NAME
    try:
        return Trusted.from_json(json.loads(path.read_text()), where=str(path))
    except (OSError, ValueError, InputError):
        return None


def write_snapshot(directory: Path, state: Trusted) -> None:
    """Rewrite the snapshot in place (the caller holds the history's lock). Neither renamed
    nor fsynced: a torn or lost file costs a longer replay, never a wrong state, since its
    tree is proven against the stored one before it is used."""
    text = json.dumps(state.to_json(), sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(directory / STATE_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)

