"""Entry signatures with domain separation, and their base64 transport form.

An actor signs ``ENTRY_DOMAINS[v] || canonical entry``, ``v`` the entry's format
version. The prefix keeps an entry signature from ever being valid as a signature
over anything else the same key signs (a signed note, another protocol's message),
and the version in it keeps a v1 signature from being read as a v2 one: new entries
are v2 (bound to their log); v1 entries are only verified in old logs.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.crypto._b64 import b64decode, b64encode
from ledger.crypto.edwards import check_signature_scalar
from ledger.crypto.keys import SIGNATURE_SIZE, PublicKey, SigningKey, verify_many
from ledger.errors import InputError, VerificationError

ENTRY_DOMAINS = {1: b"medledger/entry/v1\n", 2: b"medledger/entry/v2\n"}
ENTRY_VERSION = 2  # what new entries are
ENTRY_DOMAIN = ENTRY_DOMAINS[ENTRY_VERSION]
_SIG_B64_LEN = 88  # padded base64 of 64 bytes


def _domain(version: object) -> bytes:
    domain = ENTRY_DOMAINS.get(version) if isinstance(version, int) else None
    if domain is None or isinstance(version, bool):
        raise InputError(f"unknown entry format version {version!r}")
    return domain


def entry_message(canonical_entry: bytes, *, version: int = ENTRY_VERSION) -> bytes:
    """The exact bytes an entry signature covers (``version`` is the entry's ``v``)."""
    return _domain(version) + canonical_entry


def sign_entry(key: SigningKey, canonical_entry: bytes, *, version: int = ENTRY_VERSION) -> bytes:
    return key.sign(entry_message(canonical_entry, version=version))


def verify_entry(
    public_key: PublicKey, canonical_entry: bytes, sig: bytes, *, version: int
) -> None:
    """Return if ``sig`` signs this entry (whose ``v`` is ``version``) under ``public_key``;
    raise otherwise."""
    message = entry_message(canonical_entry, version=version)
    try:
        public_key.verify(message, sig)
    except VerificationError:
        raise VerificationError(f"invalid entry signature for key {public_key.key_id}") from None


def verify_entries(
    items: Iterable[tuple[bytes, bytes, bytes]], *, version: int = ENTRY_VERSION, workers: int = 1
) -> list[int]:
    """Bulk ``verify_entry`` over ``(raw public key, canonical entry, sig)`` of one version.

    Returns the positions whose signature does not verify (ascending).
    """
    domain = _domain(version)
    return verify_many(((raw, domain + entry, sig) for raw, entry, sig in items), workers=workers)


def encode_sig(sig: bytes) -> str:
    if len(sig) != SIGNATURE_SIZE:
        raise InputError(f"signature must be {SIGNATURE_SIZE} bytes, got {len(sig)}")
    return b64encode(sig)


def decode_sig(text: str) -> bytes:
    """Decode a transported signature: the 88-character canonical padded base64."""
    if not isinstance(text, str):
        raise InputError(f"signature must be a base64 string, not {type(text).__name__}")
    if len(text) != _SIG_B64_LEN:
        raise InputError(f"signature must be {_SIG_B64_LEN} base64 characters, got {len(text)}")
    sig = b64decode(text)
    if sig is None or len(sig) != SIGNATURE_SIZE:
        raise InputError("signature is not the padded standard base64 of 64 bytes")
    # One encoding per signature: an envelope cannot be re-encoded into a
    # different leaf that still verifies.
    if b64encode(sig) != text:
        raise InputError("signature base64 is not canonical (non-zero padding bits)")
    check_signature_scalar(sig)  # S >= L: another encoding of a signature, never accepted
    return sig
