"""Weak and non-canonical Ed25519 keys and signatures, against published vectors and a slow
reference implementation of the curve that lives only here."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto.edwards import check_public_point
from ledger.crypto.keys import PublicKey, SigningKey, verify_many
from ledger.crypto.note import NoteVerifier, note_key_hash
from ledger.crypto.signing import decode_sig, encode_sig
from ledger.errors import InputError, VerificationError

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "ed25519"

# --- the reference: affine twisted Edwards arithmetic, straight from RFC 8032 5.1 ---------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, -1, P)) % P
IDENTITY = (0, 1)


def ref_add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + x2 * y1) * pow(1 + t, -1, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P
    return x3, y3


def ref_mul(k: int, point: tuple[int, int]) -> tuple[int, int]:
    result, addend = IDENTITY, point
    while k:
        if k & 1:
            result = ref_add(result, addend)
        addend = ref_add(addend, addend)
        k >>= 1
    return result


def ref_decode_lenient(raw: bytes) -> tuple[int, int] | None:
    """Any 32 bytes that name a point, the way a permissive decoder reads them (y mod p)."""
    value = int.from_bytes(raw, "little")
    y, sign = (value & ((1 << 255) - 1)) % P, value >> 255
    x2 = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    roots = [x for x in _sqrt_candidates(x2) if x * x % P == x2]
    if not roots:
        return None
    x = roots[0]
    if x & 1 != sign:
        x = (P - x) % P
    return x, y


def _sqrt_candidates(a: int) -> list[int]:
    r = pow(a, (P + 3) // 8, P)
    return [r, r * pow(2, (P - 1) // 4, P) % P]


def ref_encode(point: tuple[int, int]) -> bytes:
    x, y = point
    return (y | (x & 1) << 255).to_bytes(32, "little")


def ref_acceptable(raw: bytes) -> bool:
    """Canonical (re-encodes to itself), on the curve, and [8]P != identity."""
    point = ref_decode_lenient(raw)
    return point is not None and ref_encode(point) == raw and ref_mul(8, point) != IDENTITY


def torsion_points() -> list[tuple[int, int]]:
    """The 8 points of order dividing 8: [L]Q is Q's torsion part; find one of order 8."""
    for n in range(1000):
        q = ref_decode_lenient(hashlib.sha256(b"torsion-%d" % n).digest())
        if q is None:
            continue
        t = ref_mul(L, q)
        if ref_mul(4, t) != IDENTITY:  # order exactly 8
            return [ref_mul(i, t) for i in range(8)]
    raise AssertionError("no point with a torsion part of order 8")


TORSION = torsion_points()
ZEBRA = json.loads((VECTORS / "zebra-small-order.json").read_text())


def all_small_order_encodings() -> set[bytes]:
    """Every 32-byte string a permissive decoder reads as a small-order point: y and y + p
    (when it fits in 255 bits), each with both sign bits."""
    out: set[bytes] = set()
    for _x, y in TORSION:
        for y_enc in (y, y + P):
            if y_enc >= 1 << 255:
                continue
            for sign in (0, 1):
                raw = (y_enc | sign << 255).to_bytes(32, "little")
                point = ref_decode_lenient(raw)
                if point is not None and ref_mul(8, point) == IDENTITY:
                    out.add(raw)
    return out


# --- the reference agrees with the published lists --------------------------------------


def test_reference_torsion_points_are_the_published_eight() -> None:
    canonical = {ref_encode(t) for t in TORSION}
    assert canonical == {bytes.fromhex(h) for h in ZEBRA["eight_torsion_canonical"]}
    assert len(canonical) == 8


def test_small_order_encodings_are_eight_canonical_and_six_non_canonical() -> None:
    every = all_small_order_encodings()
    published = {bytes.fromhex(h) for h in ZEBRA["eight_torsion_canonical"]}
    extra = {
        bytes.fromhex(h)
        for h in (
            "01" + "00" * 30 + "80",  # identity, x = 0 with the sign bit
            "ec" + "ff" * 31,  # (0, -1), x = 0 with the sign bit
            "ed" + "ff" * 30 + "7f", "ed" + "ff" * 31,  # y = p (= 0), both signs
            "ee" + "ff" * 30 + "7f", "ee" + "ff" * 31,  # y = p + 1 (= 1), both signs
        )
    }
    assert every == published | extra


# --- the fast check ------------------------------------------------------------------------


@pytest.mark.parametrize("raw", sorted(all_small_order_encodings()), ids=bytes.hex)
def test_every_small_order_encoding_is_refused(raw: bytes) -> None:
    with pytest.raises(InputError) as caught:
        PublicKey(raw)
    canonical = ref_encode(ref_decode_lenient(raw) or IDENTITY) == raw
    if canonical:
        assert caught.value.message == "public key is of small order (weak key)"
    else:
        assert "not a canonical point encoding" in caught.value.message


@pytest.mark.parametrize("hex_value", ZEBRA["non_canonical_field_encodings"])
@pytest.mark.parametrize("sign", [0x00, 0x80])
def test_non_canonical_y_is_refused_with_either_sign(hex_value: str, sign: int) -> None:
    raw = bytearray(bytes.fromhex(hex_value))
    raw[31] |= sign
    with pytest.raises(InputError, match=r"not a canonical point encoding|not a point"):
        PublicKey(bytes(raw))


def test_libsodium_blocklist_verdicts_match_the_reference() -> None:
    """libsodium 1.0.15's blocklist meant to list small-order points but missed: two of its
    entries are ordinary canonical points (ed25519-zebra's find_valid_excluded_encodings)."""
    accepted = []
    for hex_value in ZEBRA["libsodium_excluded_point_encodings"]:
        raw = bytes.fromhex(hex_value)
        try:
            check_public_point(raw)
            accepted.append(hex_value)
        except InputError:
            pass
        assert (hex_value in accepted) == ref_acceptable(raw), hex_value
    assert accepted == [
        "13e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "da" + "ff" * 31,
    ]


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_fast_check_agrees_with_the_reference(raw: bytes) -> None:
    try:
        check_public_point(raw)
        fast = True
    except InputError:
        fast = False
    assert fast == ref_acceptable(raw)


def test_real_keys_and_mixed_order_keys_are_accepted() -> None:
    for seed in range(20):
        PublicKey(SigningKey.from_private_bytes_raw(bytes([seed]) * 32).public_key.raw)
    # A full-order point plus a torsion component is not small order (speccheck case 3's A).
    mixed = bytes.fromhex("cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d")
    assert ref_acceptable(mixed)
    PublicKey(mixed)


# --- "Taming the many EdDSAs" --------------------------------------------------------------

CASES = json.loads((VECTORS / "speccheck-cases.json").read_text())


def _ours(case: dict[str, str]) -> str:
    """How this project's rule treats a case: accepted, or which check refused it."""
    try:
        key = PublicKey(bytes.fromhex(case["pub_key"]))
    except InputError:
        return "key refused"
    try:
        key.verify(bytes.fromhex(case["message"]), bytes.fromhex(case["signature"]))
    except VerificationError as exc:
        return "S refused" if "not reduced mod L" in exc.message else "signature invalid"
    return "accepted"


def test_speccheck_cases() -> None:
    got = {i: _ours(case) for i, case in enumerate(CASES)}
    assert got == {
        0: "key refused",  # small A, small R, S = 0: the forgery
        1: "key refused",  # small A
        2: "accepted",  # small R only: a full-strength key really signed it
        3: "accepted",  # mixed A and R, valid in both equations
        4: "signature invalid",  # valid only cofactored
        5: "signature invalid",  # valid only cofactored with pre-reduction
        6: "S refused",  # S > L
        7: "S refused",  # S >> L
        8: "signature invalid",  # non-canonical R
        9: "signature invalid",  # non-canonical R
        10: "key refused",  # non-canonical A (x = 0 with the sign bit)
        11: "key refused",  # the same A; OpenSSL alone accepts this one
    }


def test_bulk_verification_applies_the_same_rule() -> None:
    items = [
        (bytes.fromhex(c["pub_key"]), bytes.fromhex(c["message"]), bytes.fromhex(c["signature"]))
        for c in CASES
    ]
    failed = verify_many(items)
    assert [i for i in range(len(CASES)) if i not in failed] == [2, 3]
    assert verify_many(items, workers=2) == failed


# --- the forgeries of issue 17 -------------------------------------------------------------

IDENTITY_KEY = base64.b64decode("AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
FORGED = bytes([1]) + bytes(31) + bytes(32)  # R = identity, S = 0


def test_identity_key_forgery_is_refused() -> None:
    assert IDENTITY_KEY == ref_encode(IDENTITY)
    with pytest.raises(InputError, match=r"^public key is of small order \(weak key\)$"):
        PublicKey(IDENTITY_KEY)
    with pytest.raises(InputError, match="small order"):
        PublicKey.from_b64("AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    assert verify_many([(IDENTITY_KEY, b"any message", FORGED)]) == [0]


def test_the_forgery_is_real_without_the_check() -> None:
    """Why the check exists: OpenSSL's cofactorless verification accepts it."""
    try:
        Ed25519PublicKey.from_public_bytes(IDENTITY_KEY).verify(FORGED, b"any message")
    except InvalidSignature:
        pytest.skip("this OpenSSL already refuses the identity key forgery")


def test_signature_with_s_plus_l_is_refused() -> None:
    key = SigningKey.from_private_bytes_raw(bytes(range(32)))
    message = b"medledger"
    sig = key.sign(message)
    s = int.from_bytes(sig[32:], "little")
    malleated = sig[:32] + (s + L).to_bytes(32, "little")
    key.public_key.verify(message, sig)
    with pytest.raises(VerificationError, match=r"S is not reduced mod L \(non-canonical\)"):
        key.public_key.verify(message, malleated)
    with pytest.raises(InputError, match=r"^signature S is not reduced mod L \(non-canonical\)$"):
        decode_sig(encode_sig(malleated))
    assert verify_many([(key.public_key.raw, message, malleated)]) == [0]


# --- C2SP note verifier keys -------------------------------------------------------------


@pytest.mark.parametrize("hex_key", ZEBRA["eight_torsion_canonical"])
def test_note_vkey_with_a_small_order_key_is_refused(hex_key: str) -> None:
    raw = bytes.fromhex(hex_key)
    data = b"log.example\n\x01" + raw
    key_hash = int.from_bytes(hashlib.sha256(data).digest()[:4], "big")
    vkey = f"log.example+{key_hash:08x}+{base64.b64encode(bytes([1]) + raw).decode()}"
    with pytest.raises(InputError, match=r"verifier key 'log.example': public key is of small"):
        NoteVerifier.from_vkey(vkey)


def test_note_vkey_hash_helper_still_matches_for_real_keys() -> None:
    public = SigningKey.from_private_bytes_raw(bytes(32)).public_key
    verifier = NoteVerifier("log.example", public)
    assert NoteVerifier.from_vkey(verifier.vkey) == verifier
    assert verifier.key_hash == note_key_hash("log.example", public)
