"""RFC 8785 (JCS) canonical JSON.

``rfc8785`` is the reference encoder. Ledger values are restricted to what JCS
encodes identically to Python's C ``json`` encoder with sorted keys (strings,
booleans, null, integers within the IEEE-754 safe range, no floats, keys in
the Basic Multilingual Plane below the surrogates), so the hot path uses the C
encoder; any value outside that subset goes through ``rfc8785``. A property
test keeps the two byte-identical.

Checking stored bytes (``load_canonical``, every audited leaf) takes a cheaper
road still: orjson renders the parsed value with sorted keys, and equal bytes
settle it only where orjson's output is provably RFC 8785's; anything else gets
the strict comparison, so the check accepts exactly what the strict one does.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import orjson
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
        value, canonical = load_canonical(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"malformed {what}: {exc}") from exc
    if not canonical:
        raise InputError(f"{what} is not in RFC 8785 canonical form")
    return value


class _FloatError(Exception):
    """A float (a fraction, an exponent, NaN or Infinity): orjson writes them unlike RFC 8785."""


def _refuse_float(_text: str) -> float:
    raise _FloatError


# ``json.loads`` itself, except that a float stops it (the C scanner calls the hooks for
# floats only, so float-free text parses at full speed).
_NO_FLOAT = json.JSONDecoder(parse_float=_refuse_float, parse_constant=_refuse_float)
# Sorted keys; an integer outside +-(2**53 - 1) raises, as RFC 8785 refuses it.
_ORJSON_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
# A UTF-8 lead byte of a character beyond the BMP: there RFC 8785 sorts keys by UTF-16
# code units and orjson by code points, which disagree (U+10000 < U+E000 in UTF-16).
_ASTRAL = re.compile(b"[\xf0-\xff]")


def load_canonical(data: bytes) -> tuple[Any, bool]:
    """``json.loads(data)`` and whether ``data`` is exactly ``canonical_json`` of it.

    Raises what ``json.loads`` raises, and InputError where ``canonical_json`` would.
    orjson's bytes decide alone when they equal ``data``, the value holds no float
    (``json.loads`` gives no other type orjson renders unlike RFC 8785: integers are
    bounded by ``OPT_STRICT_INTEGER``, a lone surrogate makes orjson raise, and string
    escapes are the same, which a test checks for every character) and ``data`` has no
    character beyond the BMP (key order). Otherwise the strict comparison decides.
    """
    try:
        value = _NO_FLOAT.decode(data.decode(json.detect_encoding(data), "surrogatepass"))
    except _FloatError:
        value = json.loads(data)
        return value, canonical_json(value) == data
    try:
        rendered: bytes | None = orjson.dumps(value, option=_ORJSON_SORTED)
    except orjson.JSONEncodeError:
        rendered = None
    if rendered == data and (data.isascii() or _ASTRAL.search(data) is None):
        return value, True
    return value, canonical_json(value) == data
