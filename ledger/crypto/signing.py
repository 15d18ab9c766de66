"""Entry signatures with domain separation, and their base64 transport form.

An actor signs ``ENTRY_DOMAIN || canonical entry``. The prefix keeps an entry
signature from ever being valid as a signature over anything else the same key
signs (a signed note, another protocol's message), and the version in it lets
the entry format change without old signatures becoming ambiguous.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.crypto._b64 import b64decode, b64encode
from ledger.crypto.edwards import check_signature_scalar
from ledger.crypto.keys import SIGNATURE_SIZE, PublicKey, SigningKey, verify_many
from ledger.errors import InputError, VerificationError

ENTRY_DOMAIN = b"medledger/entry/v1\n"
_SIG_B64_LEN = 88  # padded base64 of 64 bytes


def entry_message(canonical_entry: bytes) -> bytes:
    """The exact bytes an entry signature covers."""
    return ENTRY_DOMAIN + canonical_entry


def sign_entry(key: SigningKey, canonical_entry: bytes) -> bytes:
    return key.sign(entry_message(canonical_entry))


def verify_entry(public_key: PublicKey, canonical_entry: bytes, sig: bytes) -> None:
    """Return if ``sig`` signs this entry under ``public_key``; raise otherwise."""
    try:
        public_key.verify(entry_message(canonical_entry), sig)
    except VerificationError:
        raise VerificationError(f"invalid entry signature for key {public_key.key_id}") from None


def verify_entries(items: Iterable[tuple[bytes, bytes, bytes]], *, workers: int = 1) -> list[int]:
    """Bulk ``verify_entry`` over ``(raw public key, canonical entry, sig)``.

    Returns the positions whose signature does not verify (ascending).
    """
    return verify_many(
        ((raw, ENTRY_DOMAIN + entry, sig) for raw, entry, sig in items), workers=workers
    )


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
