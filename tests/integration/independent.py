"""Independent checks written from the specs, sharing no code with ``ledger``.

RFC 9162 §2.1 hashes and proof verification, C2SP signed-note Ed25519 checks and
the tlog-proof text format, each in a few obvious lines, so that a test using
them cannot pass just because the code under test agrees with itself.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash_of(leaf: Any) -> bytes:
    """SHA-256(0x00 || RFC 8785 canonical JSON of the leaf)."""
    return sha256(b"\x00" + rfc8785.dumps(leaf))


def node(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 Merkle Tree Hash over leaf hashes, recursively."""
    n = len(hashes)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node(mth(hashes[:k]), mth(hashes[k:]))


def verify_inclusion(
    *, index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2; size 0 is consistent with anything given no proof (C2SP)."""
    if old_size > new_size:
        return False
    if old_size == 0:
        return proof == []
    if old_size == new_size:
        return proof == [] and old_root == new_root
    if not proof:
        return False
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


# --- C2SP signed notes and checkpoints ------------------------------------------------


@dataclass(frozen=True)
class Vkey:
    name: str
    key_hash: bytes
    public: bytes


def parse_vkey(vkey: str) -> Vkey:
    name, hash_hex, b64 = vkey.split("+", 2)
    blob = base64.b64decode(b64)
    assert blob[0] == 1 and len(blob) == 33, "an Ed25519 verifier key"
    key_hash = sha256(name.encode() + b"\n" + b"\x01" + blob[1:])[:4]
    assert key_hash.hex() == hash_hex, "key hash = SHA-256(name || \\n || 0x01 || key)[:4]"
    return Vkey(name, key_hash, blob[1:])


def note_verifies(note: str, vkey: str) -> bool:
    """True when a signature line by ``vkey`` verifies over the note's text."""
    key = parse_vkey(vkey)
    head, sep, block = note.rpartition("\n\n")
    if not sep or not block.endswith("\n"):
        return False
    message = (head + "\n").encode()
    for line in block[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            return False
        name, _, b64 = line[2:].partition(" ")
        try:
            blob = base64.b64decode(b64, validate=True)
        except ValueError:
            return False
        if name != key.name or blob[:4] != key.key_hash:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key.public).verify(blob[4:], message)
        except InvalidSignature:
            return False
        return True
    return False


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


def parse_checkpoint(note: str) -> Checkpoint:
    origin, size, root = note.split("\n")[:3]
    return Checkpoint(origin, int(size), base64.b64decode(root, validate=True))


@dataclass(frozen=True)
class TlogProof:
    index: int
    hashes: list[bytes]
    note: str


def parse_tlog_proof(text: str) -> TlogProof:
    """c2sp.org/tlog-proof@v1: header, [extra], index, hashes, blank line, checkpoint note."""
    lines = text.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    at = 1
    if lines[at].startswith("extra "):
        at += 1
    assert lines[at].startswith("index ")
    index = int(lines[at].removeprefix("index "))
    at += 1
    hashes = []
    while lines[at] != "":
        hashes.append(base64.b64decode(lines[at], validate=True))
        at += 1
    return TlogProof(index, hashes, "\n".join(lines[at + 1 :]))
