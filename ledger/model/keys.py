"""Bodies of the key-management entries."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.model.entry import HEX64
from ledger.model.kinds import kind
from ledger.model.projection import Change, Insert, Projection, Update
from ledger.model.roles import Role

KEY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
PUBKEY_PATTERN = r"^[A-Za-z0-9+/]{43}=$"


class KeyAdded(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(pattern=KEY_NAME_PATTERN)
    role: Role = Field(strict=False)
    public_key: str = Field(pattern=PUBKEY_PATTERN, description="base64 raw Ed25519 key")
    key_id: str = Field(pattern=HEX64, description="hex SHA-256(0x01 || public key)")


class KeyRevoked(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    key_id: str = Field(pattern=HEX64)
    reason: str = Field(default="", max_length=500)


KINDS = (
    kind("key.added", KeyAdded, roles=(), description="a key joins the ledger with a role"),
    kind("key.revoked", KeyRevoked, roles=(), description="a key may sign nothing from here on"),
)


def _key_added(index: int, entry: dict[str, Any]) -> list[Change]:
    body = entry["body"]
    return [Insert("keys", {
        "key_id": body["key_id"],
        "name": body["name"],
        "role": body["role"],
        "public_key": body["public_key"],
        "added_idx": index,
        "revoked_idx": None,
    })]


def _key_revoked(index: int, entry: dict[str, Any]) -> list[Change]:
    return [Update("keys", {"key_id": entry["body"]["key_id"]}, {"revoked_idx": index})]


PROJECTIONS: dict[str, Projection] = {"key.added": _key_added, "key.revoked": _key_revoked}
