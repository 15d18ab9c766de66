"""Ed25519 keys, key ids, key files and bulk verification.

Key id: lowercase hex of SHA-256(0x01 || 32-byte public key). 0x01 is the
signed-note algorithm byte for Ed25519, so the id commits to the algorithm.

Key files:

* private key: PEM PKCS#8 (``-----BEGIN PRIVATE KEY-----``, or
  ``ENCRYPTED PRIVATE KEY`` when written with a passphrase), mode 0600;
  readable by ``openssl pkey``.
* public key: one line ``ed25519 <base64 of the 32-byte key>`` and a newline.
  A PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo, as from ``openssl pkey -pubout``)
  is accepted too.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ledger.crypto._b64 import b64decode, b64encode
from ledger.crypto._files import create_new_file, read_key_file
from ledger.crypto.edwards import NON_CANONICAL_S, L, check_public_point
from ledger.errors import InputError, VerificationError

ED25519_ALGORITHM = 0x01
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
PUBLIC_KEY_FILE_TAG = "ed25519"

StrPath = str | os.PathLike[str]


def key_id_of(raw: bytes) -> str:
    """Lowercase hex SHA-256(0x01 || raw public key)."""
    return hashlib.sha256(bytes([ED25519_ALGORITHM]) + raw).hexdigest()


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An Ed25519 public key: 32 raw bytes, checked when built (canonical, on the curve,
    not of small order: see ``edwards``)."""

    raw: bytes
    key_id: str = field(init=False, compare=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.raw, bytes | bytearray | memoryview):
            raise InputError(f"public key must be bytes, not {type(self.raw).__name__}")
        raw = bytes(self.raw)
        if len(raw) != PUBLIC_KEY_SIZE:
            raise InputError(f"Ed25519 public key must be 32 bytes, got {len(raw)}")
        check_public_point(raw)
        object.__setattr__(self, "raw", raw)
        object.__setattr__(self, "key_id", key_id_of(raw))
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(raw))

    @classmethod
    def from_b64(cls, text: str) -> PublicKey:
        raw = b64decode(text)
        if raw is None:
            raise InputError("public key is not padded standard base64")
        return cls(raw)

    def to_b64(self) -> str:
        return b64encode(self.raw)

    def verify(self, data: bytes, sig: bytes) -> None:
        """Return if ``sig`` is this key's signature of ``data``; raise otherwise.

        OpenSSL verifies cofactorless; a non-reduced S is refused before it is called.
        """
        if int.from_bytes(sig[32:64], "little") >= L:
            raise VerificationError(f"{NON_CANONICAL_S} for key {self.key_id}")
        try:
            self._key.verify(sig, data)
        except InvalidSignature:
            raise VerificationError(f"invalid signature for key {self.key_id}") from None


class SigningKey:
    """An Ed25519 private key. Its repr shows the key id, never the secret."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self._public = PublicKey(key.public_key().public_bytes_raw())

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes_raw(cls, seed: bytes) -> SigningKey:
        """Build from the 32-byte RFC 8032 seed (what ``private_bytes_raw`` returns)."""
        if len(seed) != PUBLIC_KEY_SIZE:
            raise InputError(f"Ed25519 private key must be 32 bytes, got {len(seed)}")
        return cls(Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    @property
    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def private_bytes_raw(self) -> bytes:
        """The 32-byte seed. Secret: never log or print it."""
        return self._key.private_bytes_raw()

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self._public.key_id!r})"


# --- bulk verification -------------------------------------------------------

_CHUNK = 2048
_MISSING = object()


def verify_many(items: Iterable[tuple[bytes, bytes, bytes]], *, workers: int = 1) -> list[int]:
    """Verify ``(raw public key, data, signature)`` triples; return failing positions.

    A malformed or weak public key, or a non-reduced S, counts as a failure of its
    item, never an exception.
    Key objects are built once per distinct raw key. With ``workers > 1`` the
    items are verified in chunks on a thread pool (OpenSSL runs without the
    GIL), streaming: memory stays bounded for any number of items.
    The returned positions are in ascending order.
    """
    if workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    cache: dict[bytes, object] = {}
    indexed = enumerate(items)
    if workers == 1:
        return _verify_chunk(indexed, cache)
    failures: list[int] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[list[int]]] = deque()
        while chunk := list(islice(indexed, _CHUNK)):
            pending.append(pool.submit(_verify_chunk, chunk, cache))
            if len(pending) >= 2 * workers:
                failures.extend(pending.popleft().result())
        for future in pending:
            failures.extend(future.result())
    return failures


def _verify_chunk(
    indexed: Iterable[tuple[int, tuple[bytes, bytes, bytes]]], cache: dict[bytes, object]
) -> list[int]:
    failed: list[int] = []
    for index, (raw, data, sig) in indexed:
        key = cache.get(raw, _MISSING)
        if key is _MISSING:
            key = cache[raw] = _load_public(raw)
        if not isinstance(key, Ed25519PublicKey) or int.from_bytes(sig[32:64], "little") >= L:
            failed.append(index)
            continue
        try:
            key.verify(sig, data)
        except InvalidSignature:
            failed.append(index)
    return failed


def _load_public(raw: bytes) -> Ed25519PublicKey | None:
    try:
        check_public_point(raw)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError, InputError):
        return None


# --- key files ---------------------------------------------------------------


def write_private_key(path: StrPath, key: SigningKey, *, passphrase: bytes | None) -> None:
    """Create a new PEM PKCS#8 private key file, mode 0600; never overwrite."""
    target = Path(path)
    encryption: serialization.KeySerializationEncryption
    if passphrase is None:
        encryption = serialization.NoEncryption()
    elif not passphrase:
        raise InputError(f"{target}: passphrase is empty")
    else:
        encryption = serialization.BestAvailableEncryption(passphrase)
    pem = key._key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    create_new_file(target, pem, mode=0o600)


def read_private_key(path: StrPath, *, passphrase: bytes | None) -> SigningKey:
    """Load a private key file written by ``write_private_key`` (or openssl)."""
    source = Path(path)
    data = read_key_file(source, private=True)
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data:
        encrypted = True
    elif b"-----BEGIN PRIVATE KEY-----" in data:
        encrypted = False
    else:
        raise InputError(f"{source}: not a PEM PKCS#8 private key")
    if encrypted and not passphrase:
        raise InputError(f"{source}: key is encrypted; give its passphrase")
    if not encrypted and passphrase is not None:
        raise InputError(f"{source}: key is not encrypted, but a passphrase was given")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except ValueError:
        if encrypted:
            raise InputError(f"{source}: wrong passphrase, or the key is damaged") from None
        raise InputError(f"{source}: damaged private key") from None
    except (UnsupportedAlgorithm, TypeError):
        raise InputError(f"{source}: unsupported private key encoding") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{source}: not an Ed25519 private key")
    return SigningKey(key)


def write_public_key(path: StrPath, key: PublicKey) -> None:
    """Create a new public key file: ``ed25519 <base64>`` and a newline."""
    line = f"{PUBLIC_KEY_FILE_TAG} {key.to_b64()}\n"
    create_new_file(Path(path), line.encode("ascii"), mode=0o644)


def read_public_key(path: StrPath) -> PublicKey:
    source = Path(path)
    data = read_key_file(source, private=False)
    if data.lstrip().startswith(b"-----BEGIN PUBLIC KEY-----"):
        return _public_from_pem(source, data)
    try:
        parts = data.decode("ascii").split()
    except UnicodeDecodeError:
        raise InputError(f"{source}: not a public key file") from None
    if len(parts) != 2 or parts[0] != PUBLIC_KEY_FILE_TAG:
        raise InputError(f"{source}: expected one line 'ed25519 <base64 key>'")
    try:
        return PublicKey.from_b64(parts[1])
    except InputError as exc:
        raise InputError(f"{source}: {exc.message}") from None


def _public_from_pem(source: Path, data: bytes) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(f"{source}: damaged PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{source}: not an Ed25519 public key")
    return PublicKey(key.public_bytes_raw())
