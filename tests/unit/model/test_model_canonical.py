"""Canonical JSON: byte-identical to the ``rfc8785`` reference encoder on any JSON value;
and ``load_canonical``, the audit's check that stored bytes are canonical, accepts exactly
what the strict check (``json.loads``, then the reference encoder) accepts."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.model import canonical
from ledger.model.canonical import SAFE_INT, canonical_json, load_canonical, parse_canonical

# Characters that stress an encoder: quotes, backslash, every control character,
# DEL, the JavaScript line separators, the edges of the surrogate block, BMP private
# use and the last BMP character, and astral characters (UTF-16 surrogate pairs).
_TRICKY = "\"\\/\x7f\u2028\u2029\ud7ff\ue000\uffff\U00010000\U0001f600\U0010ffff\xe9a" + "".join(
    chr(c) for c in range(0x20)
)
strings = st.one_of(st.text(), st.text(alphabet=_TRICKY), st.text(alphabet=_TRICKY, min_size=1))
integers = st.one_of(
    st.integers(),
    st.integers(-SAFE_INT - 3, -SAFE_INT + 3),
    st.integers(SAFE_INT - 3, SAFE_INT + 3),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
)
scalars = st.one_of(st.none(), st.booleans(), integers, strings,
                    st.floats(allow_nan=False, allow_infinity=False))


def _nested(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(strings, children, max_size=5),
        ),
        max_leaves=30,
    )


json_values = _nested(scalars)
# What ledger entries hold: no floats (a float like 2.0**53 reads back as an int
# outside the safe range, which JCS refuses).
ledger_values = _nested(st.one_of(st.none(), st.booleans(), integers, strings))


def reference(value: Any) -> bytes | None:
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        return None


@settings(max_examples=600)
@given(json_values)
@example({"\U0001f600": 1, "\uffff": 2, "\ue000": 3, "z": 4})  # UTF-16 order, not code points
@example([SAFE_INT, -SAFE_INT])
@example(SAFE_INT + 1)
@example("\x00\x08\t\n\x0b\x0c\r\x1f\x7f\"\\/")
def test_equals_rfc8785(value: Any) -> None:
    expected = reference(value)
    if expected is None:
        with pytest.raises(InputError, match="cannot be canonicalised"):
            canonical_json(value)
    else:
        assert canonical_json(value) == expected


@given(ledger_values)
def test_round_trip(value: Any) -> None:
    encoded = reference(value)
    if encoded is None:
        return
    assert parse_canonical(encoded) == json.loads(encoded)
    assert canonical_json(json.loads(encoded)) == encoded


def test_keys_sort_by_utf16_code_units() -> None:
    # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+E000 and U+FFFF.
    assert canonical_json({"\uffff": 0, "\U0001f600": 1, "\ue000": 2}) == (
        '{"\U0001f600":1,"\ue000":2,"\uffff":0}'.encode()
    )


@pytest.mark.parametrize(
    "value",
    [SAFE_INT + 1, -(SAFE_INT + 1), 2**64, float("nan"), float("inf"), "\ud800",
     {"k": "\udfff"}, {1: "non-string key"}, b"bytes", {1, 2}, object()],
    ids=["above-safe", "below-safe", "2**64", "nan", "inf", "lone-high-surrogate",
         "lone-low-surrogate", "int-key", "bytes", "set", "object"],
)
def test_values_outside_json_are_input_errors(value: Any) -> None:
    with pytest.raises(InputError):
        canonical_json(value)


def test_safe_integers_take_the_fast_path_exactly() -> None:
    assert canonical_json([SAFE_INT, -SAFE_INT, 0, -0, True, False, None]) == (
        b"[9007199254740991,-9007199254740991,0,0,true,false,null]"
    )


@pytest.mark.parametrize(
    "data",
    [b'{"b":1, "a":2}', b'{"b":1,"a":2}', b"[1.0]", b'"\\u00e9"', b' {"a":1}', b'{"a":1}\n'],
    ids=["whitespace", "unsorted", "float-form", "needless-escape", "leading-space",
         "trailing-newline"],
)
def test_parse_canonical_refuses_other_forms(data: bytes) -> None:
    with pytest.raises(InputError, match="canonical"):
        parse_canonical(data)


@pytest.mark.parametrize("data", [b"{", b"\xff", b"", b"[1,]"])
def test_parse_canonical_refuses_malformed_json(data: bytes) -> None:
    with pytest.raises(InputError, match="malformed"):
        parse_canonical(data, what="leaf")


# --- load_canonical: the audit's check of stored bytes ----------------------------------

_SURROGATES = range(0xD800, 0xE000)


def _strict(data: bytes) -> tuple[str, bool] | type[BaseException]:
    """The reference: (repr of json.loads(data), whether rfc8785 renders it as data), or
    the exception class the check must raise."""
    try:
        value = json.loads(data)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        return type(exc)
    try:
        return repr(value), bytes(rfc8785.dumps(value)) == data
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        return InputError


def _checked(data: bytes) -> tuple[str, bool] | type[BaseException]:
    try:
        value, ok = load_canonical(data)
    except (ValueError, InputError) as exc:
        return type(exc)
    return repr(value), ok


def _blocks(first: int, last: int, size: int) -> list[str]:
    chars = [chr(c) for c in range(first, last) if c not in _SURROGATES]
    return ["".join(chars[i : i + size]) for i in range(0, len(chars), size)]


def test_orjson_escapes_every_character_as_rfc8785() -> None:
    # Escaping is per character, so equal blocks mean every character of them is equal;
    # as a value and as a key. Lone surrogates: orjson refuses them (the strict path runs).
    for block in _blocks(0, 0x110000, 4096):
        assert orjson.dumps(block) == bytes(rfc8785.dumps(block))
        assert orjson.dumps({block: 0}) == bytes(rfc8785.dumps({block: 0}))
    for code in (0xD800, 0xDBFF, 0xDC00, 0xDFFF):
        with pytest.raises(orjson.JSONEncodeError):
            orjson.dumps(chr(code))


def test_orjson_strict_integers_are_the_safe_range() -> None:
    opt = orjson.OPT_STRICT_INTEGER
    assert orjson.dumps([SAFE_INT, -SAFE_INT], option=opt) == (
        b"[9007199254740991,-9007199254740991]"
    )
    for outside in (SAFE_INT + 1, -SAFE_INT - 1, 2**64):
        with pytest.raises(orjson.JSONEncodeError):
            orjson.dumps(outside, option=opt)


def _renderings(value: Any) -> st.SearchStrategy[bytes]:
    """The same value written canonically, by orjson (sorted keys: equal to the canonical
    form except where the two encoders differ) and by ``json`` in other forms."""
    def by_json(ascii_only: bool, sort: bool, spaced: bool) -> bytes:
        text = json.dumps(value, ensure_ascii=ascii_only, sort_keys=sort,
                          separators=(", ", ": ") if spaced else (",", ":"))
        return text.encode("utf-8", "surrogatepass")

    options: list[st.SearchStrategy[bytes]] = [
        st.builds(by_json, st.booleans(), st.booleans(), st.booleans())
    ]
    try:
        options.append(st.just(bytes(rfc8785.dumps(value))))
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        pass
    try:
        options.append(st.just(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)))
    except (orjson.JSONEncodeError, TypeError):
        pass
    return st.one_of(options)


def _member(key: str, value: Any) -> str:
    return json.dumps(key, ensure_ascii=False) + ":" + json.dumps(value, ensure_ascii=False)


def _key(member: tuple[str, Any]) -> str:
    return member[0]


# Objects written member by member, sorted but with a key repeated (json.loads keeps the
# last): never canonical, since the canonical form of the parsed dict has one member.
def _object(members: list[tuple[str, Any]]) -> bytes:
    text = ",".join(_member(k, v) for k, v in sorted(members + members[:1], key=_key))
    return ("{" + text + "}").encode("utf-8", "surrogatepass")


duplicated = st.lists(st.tuples(strings, ledger_values), min_size=1, max_size=4).map(_object)
generated = st.one_of(
    json_values.flatmap(_renderings),
    ledger_values.flatmap(_renderings),
    duplicated,
    st.binary(max_size=40),
    st.text(alphabet='{}[]",:0123456789.eE+-\\u tfnrl', max_size=30).map(str.encode),
)


@settings(max_examples=800)
@given(generated)
@example('{"\ue000":1,"\U00010000":2}'.encode())  # orjson's key order, not UTF-16's
@example('{"\U00010000":2,"\ue000":1}'.encode())  # UTF-16's: canonical
@example(b"[1e100]")  # orjson's float form; RFC 8785 writes 1e+100
@example(b"[1.0]")
@example(b"[0.5]")  # a float both write alike: canonical
@example(b"[NaN]")
@example(b"[-Infinity]")
@example(b"[9007199254740991]")
@example(b"[9007199254740992]")  # outside the safe range: refused, not merely unequal
@example(b"[18446744073709551616]")
@example(b"[-0]")
@example(b'{"a":1,"a":1}')
@example(b'{"a":1,"a":2}')
@example(b'"\\ud800"')  # an escaped lone surrogate
@example(b'"\xed\xa0\x80"')  # a lone surrogate's UTF-8 bytes (json.loads passes them)
@example(b'"\\ud83d\\ude00"')  # an escaped pair
@example('"\U0001f600"'.encode())
@example(b'"\\u00e9"')
@example(b'"\\u001f"')
@example(b'"\\u001F"')
@example(b'"\\/"')
@example(b'"\x7f\xe2\x80\xa8"')
@example(b"\xef\xbb\xbf{}")  # a UTF-8 byte-order mark
@example('"a"'.encode("utf-16-le"))
@example(b'{"a":1} ')
@example(b" {}")
def test_accepts_exactly_what_the_strict_check_accepts(data: bytes) -> None:
    assert _checked(data) == _strict(data)


def test_an_ordinary_entry_needs_no_strict_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    # The point of the check: an ASCII, float-free leaf is settled by orjson alone.
    data = bytes(rfc8785.dumps({"envelope": {"entry": {"body": {"n": SAFE_INT, "s": "a\n\""},
                                                       "kind": "x.y"}}, "prev": "0" * 64}))

    def refuse(value: Any) -> bytes:
        raise AssertionError("the strict encoder ran")

    monkeypatch.setattr(canonical, "canonical_json", refuse)
    assert load_canonical(data) == (json.loads(data), True)
