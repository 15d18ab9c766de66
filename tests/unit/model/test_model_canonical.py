"""Canonical JSON: byte-identical to the ``rfc8785`` reference encoder on any JSON value."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.model.canonical import SAFE_INT, canonical_json, parse_canonical

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
