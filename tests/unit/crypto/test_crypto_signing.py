"""Entry signatures: domain separation and the base64 transport form."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from ledger.crypto.keys import SigningKey
from ledger.crypto.signing import (
    ENTRY_DOMAIN,
    ENTRY_DOMAINS,
    decode_sig,
    encode_sig,
    entry_message,
    sign_entry,
    verify_entries,
    verify_entry,
)
from ledger.errors import InputError, VerificationError

KEY = SigningKey.from_private_bytes_raw(bytes(range(32)))
ENTRY = (b'{"actor":"ab","body":{},"kind":"image.registered","log":"' + b"cd" * 32
         + b'","time":"2026-01-01T00:00:00Z","v":2}')


def test_domain_is_fixed() -> None:
    assert ENTRY_DOMAIN == b"medledger/entry/v2\n"
    assert ENTRY_DOMAINS == {1: b"medledger/entry/v1\n", 2: b"medledger/entry/v2\n"}
    assert entry_message(ENTRY) == ENTRY_DOMAIN + ENTRY
    assert entry_message(ENTRY, version=1) == b"medledger/entry/v1\n" + ENTRY
    for version in (0, 3, True):
        with pytest.raises(InputError, match="unknown entry format version"):
            entry_message(ENTRY, version=version)


def test_signature_covers_domain_and_entry() -> None:
    sig = sign_entry(KEY, ENTRY)
    # Independent check with cryptography directly.
    Ed25519PublicKey.from_public_bytes(KEY.public_key.raw).verify(
        sig, b"medledger/entry/v2\n" + ENTRY)
    verify_entry(KEY.public_key, ENTRY, sig, version=2)


def test_domain_separation() -> None:
    plain = KEY.sign(ENTRY)  # a signature over the bare bytes is not an entry signature
    with pytest.raises(VerificationError) as exc:
        verify_entry(KEY.public_key, ENTRY, plain, version=2)
    assert KEY.public_key.key_id in str(exc.value)
    # ...and an entry signature is not a signature over the bare bytes.
    with pytest.raises(VerificationError):
        KEY.public_key.verify(ENTRY, sign_entry(KEY, ENTRY))


def test_versions_do_not_verify_as_each_other() -> None:
    v1 = sign_entry(KEY, ENTRY, version=1)
    verify_entry(KEY.public_key, ENTRY, v1, version=1)
    with pytest.raises(VerificationError):
        verify_entry(KEY.public_key, ENTRY, v1, version=2)
    with pytest.raises(VerificationError):
        verify_entry(KEY.public_key, ENTRY, sign_entry(KEY, ENTRY), version=1)


def test_other_key_or_changed_entry_fails() -> None:
    sig = sign_entry(KEY, ENTRY)
    with pytest.raises(VerificationError):
        verify_entry(SigningKey.generate().public_key, ENTRY, sig, version=2)
    with pytest.raises(VerificationError):
        verify_entry(KEY.public_key, ENTRY + b" ", sig, version=2)


def test_verify_entries() -> None:
    raw = KEY.public_key.raw
    good = sign_entry(KEY, ENTRY)
    items = [(raw, ENTRY, good), (raw, ENTRY, KEY.sign(ENTRY)), (raw, ENTRY + b"x", good)]
    assert verify_entries(items) == [1, 2]
    assert verify_entries(items, workers=2) == [1, 2]
    assert verify_entries(items, version=1) == [0, 1, 2]


@given(st.binary(min_size=64, max_size=64))
def test_sig_transport_round_trip(sig: bytes) -> None:
    text = encode_sig(sig)
    assert text == base64.b64encode(sig).decode()
    assert len(text) == 88 and text.endswith("==")
    if int.from_bytes(sig[32:], "little") < 2**252 + 27742317777372353535851937790883648493:
        assert decode_sig(text) == sig
    else:  # S >= L: a second encoding of some signature, refused on input
        with pytest.raises(InputError, match="not reduced mod L"):
            decode_sig(text)


GOOD = encode_sig(bytes(range(64)))


@pytest.mark.parametrize(
    "text",
    [
        "",
        GOOD[:-2],  # unpadded
        GOOD[:-1],
        GOOD + "=",
        GOOD.replace("A", "-", 1),  # URL-safe alphabet
        GOOD.replace("+", "_"),
        " " + GOOD[1:],
        GOOD[:-2] + "A=",  # 65 bytes
        base64.b64encode(bytes(66)).decode(),  # 88 characters, 66 bytes
        GOOD[:-3] + chr(ord(GOOD[-3]) + 1) + "==",  # same bytes, non-zero padding bits
        "=" * 88,
        "\u00e9" * 88,
    ],
)
def test_decode_sig_rejects(text: str) -> None:
    assert text != GOOD
    with pytest.raises(InputError) as exc:
        decode_sig(text)
    assert "\n" not in str(exc.value)


def test_decode_sig_rejects_non_string() -> None:
    with pytest.raises(InputError):
        decode_sig(None)  # type: ignore[arg-type]


def test_encode_sig_checks_length() -> None:
    with pytest.raises(InputError, match="64 bytes"):
        encode_sig(b"\x00" * 63)
