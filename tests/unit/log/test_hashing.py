from __future__ import annotations

import hashlib

from ledger.log.hashing import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash


def test_empty_root_is_hash_of_empty_string() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_leaf_and_node_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert len(leaf_hash(b"")) == HASH_SIZE


def test_domain_separation() -> None:
    # A node over (a, b) is not the leaf hash of a || b, and order matters.
    a, b = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert node_hash(a, b) != leaf_hash(a + b)
    assert node_hash(a, b) != node_hash(b, a)
    assert leaf_hash(b"") != EMPTY_ROOT
