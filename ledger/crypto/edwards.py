"""The checks that OpenSSL's Ed25519 verification leaves out: weak keys, non-canonical input.

OpenSSL verifies cofactorless ([S]B == R + [k]A) and accepts any public key that
decodes, including the eight points of small order. With A of small order and
R = identity, S = 0 the equation holds for every message: anyone can "sign" as
such a key. So a public key is refused unless it is

* a canonical encoding: y < p, and not x = 0 with the sign bit set
  (the only two encodings of one point; RFC 8032 section 5.1.3 steps 1 and 4);
* a point on the curve (x exists);
* not of small order ([8]A != identity).

and a signature is refused when its S is not reduced (S >= L), which RFC 8032
requires and which would otherwise give one signature several encodings.

The point check runs once per key (a key object is built once and cached); the
S check runs per signature and is a single integer comparison.
"""

from __future__ import annotations

from ledger.errors import InputError

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

_Y_MASK = (1 << 255) - 1

WEAK_KEY = "public key is of small order (weak key)"
NON_CANONICAL_S = "signature S is not reduced mod L (non-canonical)"


def check_public_point(raw: bytes) -> None:
    """Return if ``raw`` (32 bytes) is a canonical encoding of a point not of small order."""
    value = int.from_bytes(raw, "little")
    y, sign = value & _Y_MASK, value >> 255
    if y >= P:
        raise InputError("public key is not a canonical point encoding (y >= p)")
    x = _recover_x(y)
    if x is None:
        raise InputError("public key is not a point on the curve")
    if x == 0 and sign:
        raise InputError("public key is not a canonical point encoding (x = 0, sign bit set)")
    if sign != x & 1:
        x = P - x
    if _times_8_is_identity(x, y):
        raise InputError(WEAK_KEY)


def check_signature_scalar(sig: bytes) -> None:
    """Return if the S half of a 64-byte signature is reduced (S < L)."""
    if int.from_bytes(sig[32:64], "little") >= L:
        raise InputError(NON_CANONICAL_S)


def _recover_x(y: int) -> int | None:
    """An x with -x^2 + y^2 = 1 + d x^2 y^2 (either root), or None: RFC 8032 5.1.3 step 2-3,
    one exponentiation."""
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    v3 = v * v * v % P
    x = u * v3 * pow(u * v3 * v3 * v, (P - 5) // 8, P) % P
    vx2 = v * x * x % P
    if vx2 == u:
        return x
    if vx2 == (P - u) % P:
        return x * SQRT_M1 % P
    return None


def _times_8_is_identity(x: int, y: int) -> bool:
    """Whether [8](x, y) is the neutral element (0, 1): three doublings, projective."""
    big_x, big_y, big_z = x, y, 1
    for _ in range(3):
        # dbl-2008-bbjlp for a = -1 (twisted Edwards, projective coordinates)
        b = (big_x + big_y) ** 2 % P
        c = big_x * big_x % P
        d = big_y * big_y % P
        e = -c % P
        f = (e + d) % P
        h = big_z * big_z % P
        j = (f - 2 * h) % P
        big_x = (b - c - d) * j % P
        big_y = f * (e - d) % P
        big_z = f * j % P
    return big_x == 0 and (big_y - big_z) % P == 0
