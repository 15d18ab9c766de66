"""Strict text encodings shared by the tlog formats: base64 hashes and decimal sizes.

Every decoder refuses non-canonical input (missing padding, whitespace,
non-zero trailing bits, leading zeros, signs, underscores, non-ASCII digits),
so one value has exactly one text and a signature over a text means one thing.
"""

from __future__ import annotations

import base64
import binascii
import re

from ledger.log.hashing import HASH_SIZE

__all__ = ["MAX_UINT64", "decode_base64", "decode_hash", "encode_base64", "parse_uint64"]

MAX_UINT64 = 2**64 - 1
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,19})\Z", re.ASCII)


def encode_base64(value: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4), as the C2SP formats write it."""
    return base64.b64encode(value).decode("ascii")


def decode_base64(text: str) -> bytes | None:
    """The bytes ``text`` encodes in canonical standard base64, or None."""
    try:
        value = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    # Re-encoding must give the same text: refuses non-zero trailing bits.
    return value if encode_base64(value) == text else None


def decode_hash(text: str) -> bytes | None:
    """The 32-byte hash ``text`` encodes in canonical base64, or None."""
    value = decode_base64(text)
    return value if value is not None and len(value) == HASH_SIZE else None


def parse_uint64(text: str) -> int | None:
    """A uint64 in ASCII decimal without sign or leading zeros ("0" for zero), or None."""
    if not _DECIMAL.match(text):
        return None
    value = int(text)
    return value if value <= MAX_UINT64 else None
