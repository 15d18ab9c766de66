"""A lock's member records checked fast: a plain strict parse and orjson's canonical lines.

``open_lock`` tries this first and falls back to its strict path (pydantic, ``json.dumps``
per line) for anything it does not accept, so the strict path gives every error message and
this never accepts a lock that the strict path refuses. For the records' shapes (the seven
ASCII keys, integers below 2**53, strings) orjson's sorted compact UTF-8 is byte for byte
``json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":"))`` and RFC 8785
(property tests in tests/unit/datasets/test_lockmembers.py).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import orjson

_KEYS = ("encoding", "entry", "file_sha256", "file_size", "pixel_form", "pixel_sha256")
_KEYS_WITH_PATH = (*_KEYS, "path")
_MAX_INT = 2**53 - 1  # I-JSON's limit: beyond it RFC 8785 is not defined, the strict path decides
_MAX_TEXT = 64  # MemberRecord's max_length of pixel_form and encoding
_MAX_PATH = 1024  # PATH_PATTERN's length
_HEX_DIGITS = b"0123456789abcdef"  # HEX64
_CONTROL = bytes([*range(0x20), 0x7F])  # PATH_PATTERN excludes them, "/" first too


def plain_records(value: object) -> list[dict[str, Any]] | None:
    """``value`` if it is a list of member records that ``MemberRecord`` (strict) accepts
    as they are; None sends the lock to the strict path.

    Checked a column at a time (a few C loops over 100,000 records, not one Python loop)."""
    if type(value) is not list or set(map(type, value)) - {dict}:
        return None
    if set(map(len, value)) - {len(_KEYS), len(_KEYS_WITH_PATH)}:
        return None
    try:  # six keys and all of these: exactly these; seven: these and "path"
        columns = {key: list(map(itemgetter(key), value)) for key in _KEYS}
        paths = [r["path"] for r in value if len(r) == len(_KEYS_WITH_PATH)]
    except KeyError:
        return None
    ints = columns["entry"] + columns["file_size"]
    texts = columns["pixel_form"] + columns["encoding"]
    hexes = columns["file_sha256"] + columns["pixel_sha256"]
    if value and (set(map(type, ints)) != {int} or min(ints) < 0 or max(ints) > _MAX_INT):
        return None
    if set(map(type, texts + hexes + paths)) - {str}:
        return None
    if value and (max(map(len, texts)) > _MAX_TEXT or set(map(len, hexes)) != {64}):
        return None
    try:
        if "".join(hexes).encode("ascii").translate(None, _HEX_DIGITS):
            return None
        return value if _plain_paths(paths) else None
    except UnicodeEncodeError:  # not hex; a lone surrogate (orjson refuses those anyway)
        return None


def _plain_paths(paths: list[str]) -> bool:
    """PATH_PATTERN, a column at a time: 1 to 1024 characters, no control character, not
    starting with "/"."""
    if not paths:
        return True
    if min(map(len, paths)) < 1 or max(map(len, paths)) > _MAX_PATH:
        return False
    if any(p[0] == "/" for p in paths):
        return False
    joined = "".join(paths).encode("utf-8")  # a control byte is itself in UTF-8
    return len(joined.translate(None, _CONTROL)) == len(joined)


def member_lines(records: list[dict[str, Any]]) -> list[bytes]:
    """Each record's canonical line (records that ``plain_records`` accepted)."""
    dumps, option = orjson.dumps, orjson.OPT_SORT_KEYS
    return [dumps(r, option=option) for r in records]
