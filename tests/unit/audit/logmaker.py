"""Hand-made logs for the audit tests, signed with ``cryptography`` directly."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DOMAINS = {1: b"medledger/entry/v1\n", 2: b"medledger/entry/v2\n"}
GENESIS_PREV = "0" * 64
# The audited log's id: the key id of its checkpoint key (a key made for that alone).
LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes([200]) * 32)
LOG_ID = hashlib.sha256(
    b"\x01" + LOG_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()
TIME = "2026-01-02T03:04:05.000006Z"


@dataclass(frozen=True)
class Key:
    name: str
    private: Ed25519PrivateKey

    @property
    def raw(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"\x01" + self.raw).hexdigest()

    def added(self, role: str) -> dict[str, Any]:
        return {"name": self.name, "role": role,
                "public_key": base64.b64encode(self.raw).decode(), "key_id": self.key_id}


def key(name: str, seed: int) -> Key:
    return Key(name, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def envelope(
    kind: str, body: dict[str, Any], *, by: Key, v: int = 2, log: str = LOG_ID
) -> dict[str, Any]:
    """A v2 entry bound to ``log`` (LOG_ID unless given), or with ``v=1`` the old format."""
    entry: dict[str, Any] = {"v": v, "kind": kind, "time": TIME, "actor": by.key_id,
                             "body": body}
    if v == 2:
        entry["log"] = log
    sig = by.private.sign(DOMAINS[v] + rfc8785.dumps(entry))
    return {"entry": entry, "sig": base64.b64encode(sig).decode()}


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node(mth(hashes[:k]), mth(hashes[k:]))


@dataclass
class Log:
    """Leaves chained as the sequencer chains them; ``rows`` as the store yields them."""

    leaves: list[bytes] = field(default_factory=list)
    kinds: list[tuple[str, str]] = field(default_factory=list)
    public_keys: dict[str, bytes] = field(default_factory=dict)

    def add(self, env: dict[str, Any], *, prev: str | None = None) -> Log:
        if prev is None:
            prev = leaf_hash(self.leaves[-1]).hex() if self.leaves else GENESIS_PREV
        self.leaves.append(rfc8785.dumps({"prev": prev, "envelope": env}))
        entry = env["entry"]
        self.kinds.append((entry["kind"], entry["actor"]))
        if entry["kind"] == "key.added":
            self.public_keys[entry["body"]["key_id"]] = base64.b64decode(
                entry["body"]["public_key"])
        return self

    @property
    def hashes(self) -> list[bytes]:
        return [leaf_hash(leaf) for leaf in self.leaves]

    def rows(self) -> list[tuple[int, bytes, bytes, str, str]]:
        pairs = zip(self.leaves, self.kinds, strict=True)
        return [(i, leaf, leaf_hash(leaf), kind, actor)
                for i, (leaf, (kind, actor)) in enumerate(pairs)]

    def perfect_nodes(self) -> dict[tuple[int, int], bytes]:
        """Every perfect subtree hash, keyed (level, index), as the store keeps them."""
        out: dict[tuple[int, int], bytes] = {}
        level, row = 0, self.hashes
        while row:
            out.update(((level, i), h) for i, h in enumerate(row))
            row = [node(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
            level += 1
        return out


ADMIN = key("admin", 1)
CURATOR = key("cura", 2)
ADMIN2 = key("admin2", 3)
OUTSIDER = key("outsider", 4)


def standard(v: int = 2) -> Log:
    """0 genesis; 1 admin adds cura (curator); 2 admin adds admin2; 3 admin2 revokes cura;
    4 admin adds outsider (verifier). Entries of format ``v``."""
    log = Log()
    log.add(envelope("key.added", ADMIN.added("admin"), by=ADMIN, v=v))
    log.add(envelope("key.added", CURATOR.added("curator"), by=ADMIN, v=v))
    log.add(envelope("key.added", ADMIN2.added("admin"), by=ADMIN, v=v))
    log.add(envelope("key.revoked", {"key_id": CURATOR.key_id, "reason": ""}, by=ADMIN2, v=v))
    log.add(envelope("key.added", OUTSIDER.added("verifier"), by=ADMIN, v=v))
    return log
