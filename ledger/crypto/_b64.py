"""Standard, padded base64 (RFC 4648 §4) exactly as Go's ``base64.StdEncoding``.

Python's ``base64.b64decode`` ignores characters outside the alphabet unless
asked not to, and tolerates data after the padding; signed notes are checked
against Go's decoder, so the accepted language is pinned here with a regex.
"""

from __future__ import annotations

import binascii
import re

_PADDED = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def b64encode(data: bytes) -> str:
    """Padded standard base64 text."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def b64decode(text: str) -> bytes | None:
    """Decode padded standard base64, or return None when ``text`` is not that.

    Like Go's non-strict decoder, unused low bits of the last character may be
    non-zero; the result is the same bytes Go would return.
    """
    if _PADDED.fullmatch(text) is None:
        return None
    return binascii.a2b_base64(text)
