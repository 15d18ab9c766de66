"""RFC 9162 §2.1 Merkle tree hashing: leaf and interior-node hashes.

Domain separation (0x00 for leaves, 0x01 for nodes) keeps a leaf from ever
being read as an interior node, which is what makes second preimages hard.
"""

from __future__ import annotations

from hashlib import sha256

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "LEAF_PREFIX", "NODE_PREFIX", "leaf_hash", "node_hash"]

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

#: MTH({}) — the root of the empty tree is the hash of the empty string.
EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right).

    No length checks: this is the hot path, and callers validate hashes at the
    boundary (proof verification, frontier input).
    """
    return sha256(NODE_PREFIX + left + right).digest()
