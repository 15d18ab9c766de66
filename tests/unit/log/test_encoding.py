from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.log.encoding import decode_base64, decode_hash, encode_base64, parse_uint64


@given(st.binary(max_size=100))
def test_base64_round_trip(value: bytes) -> None:
    assert decode_base64(encode_base64(value)) == value


@pytest.mark.parametrize(
    "text",
    [
        "AA",  # missing padding
        "AB==",  # non-zero trailing bits
        "AAA=\n",
        " AAAA",
        "AA-_",  # URL-safe alphabet
        "AAAA====",
        "ÀAAA",
    ],
)
def test_non_canonical_base64_is_refused(text: str) -> None:
    assert decode_base64(text) is None


def test_decode_hash_wants_32_bytes() -> None:
    assert decode_hash(encode_base64(b"x" * 32)) == b"x" * 32
    assert decode_hash(encode_base64(b"x" * 31)) is None
    assert decode_hash(base64.b64encode(b"x" * 33).decode()) is None


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("7", 7), ("18446744073709551615", 2**64 - 1)]
)
def test_parse_uint64(text: str, value: int) -> None:
    assert parse_uint64(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "00",
        "01",
        "+1",
        "-1",
        " 1",
        "1 ",
        "1_0",
        "1.0",
        "0x1",
        "\u0661",
        "9" * 25,
        "18446744073709551616",
    ],  # \u0661: ARABIC-INDIC DIGIT ONE, which int() accepts
)
def test_parse_uint64_refuses(text: str) -> None:
    assert parse_uint64(text) is None
