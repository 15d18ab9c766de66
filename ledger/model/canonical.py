"""RFC 8785 (JCS) canonical JSON.

``rfc8785`` is the reference encoder. Ledger values are restricted to what JCS
encodes identically to Python's C ``json`` encoder with sorted keys (strings,
booleans, null, integers within the IEEE-754 safe range, no floats, keys in
the Basic Multilingual Plane below the surrogates), so the hot path uses the C
encoder; any value outside that subset goes through ``rfc8785``. A property
test keeps the two byte-identical.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import rfc8785

from ledger.errors import InputError

SAFE_INT = 2**53 - 1
_encode_fast = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


# Any code point from the first surrogate up: the same test as ``ord(c) >= 0xD800``,
# run by the regex engine instead of a Python loop over characters.
_HIGH_CHAR = re.compile("[\ud800-\U0010ffff]")


def _fast_path_ok(value: Any) -> bool:
    # Hot path (every append and every audited leaf): ASCII strings, the usual
    # case, are settled by ``str.isascii`` in C; only others reach the regex.
    stack = [value]
    pop, extend, search = stack.pop, stack.extend, _HIGH_CHAR.search
    while stack:
        item = pop()
        if isinstance(item, str):
            if not item.isascii() and search(item) is not None:
                return False
        elif isinstance(item, dict):
            for key in item:
                if not isinstance(key, str) or (
                    not key.isascii() and search(key) is not None
                ):
                    return False
            extend(item.values())
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -SAFE_INT <= item <= SAFE_INT:
                return False
        elif isinstance(item, list | tuple):
            extend(item)
        else:
            return False
    return True


_known = threading.local()


class known_encoding:  # noqa: N801 - used like the function-style context managers
    """Within the block, ``canonical_json(value)`` for this very object returns ``encoded``.

    For a hot path that already holds the canonical bytes of ``value`` (it has just
    encoded it, or cut it out of a larger canonical text) and calls code that would
    encode it again, such as ``parse_envelope``'s size check. ``encoded`` must be
    exactly ``canonical_json(value)``, and ``value`` must not change in the block.
    A class rather than ``@contextmanager``: it runs once per entry.
    """

    __slots__ = ("_pair", "_previous")

    def __init__(self, value: Any, encoded: bytes) -> None:
        self._pair = (value, encoded)
        self._previous: tuple[Any, bytes] | None = None

    def __enter__(self) -> None:
        self._previous = getattr(_known, "pair", None)
        _known.pair = self._pair

    def __exit__(self, *exc: object) -> None:
        _known.pair = self._previous


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as RFC 8785 canonical JSON bytes (UTF-8)."""
    known = getattr(_known, "pair", None)
    if known is not None and known[0] is value:
        return bytes(known[1])
    if _fast_path_ok(value):
        return _encode_fast(value).encode("utf-8")
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InputError(f"value cannot be canonicalised: {exc}") from exc


def parse_canonical(data: bytes, *, what: str = "JSON") -> Any:
    """Parse JSON bytes and insist they are already in canonical form."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"malformed {what}: {exc}") from exc
    if canonical_json(value) != data:
        raise InputError(f"{what} is not in RFC 8785 canonical form")
    return value
