"""Cost of the Ed25519 pre-checks (issue 17) next to the OpenSSL verification they guard.

Prints figures; never asserts timings. The point check (decompression and [8]A, pure
Python) runs once per key object; the S < L check runs once per signature.

    python bench/keycheck.py
"""

from __future__ import annotations

import timeit

from ledger.crypto.edwards import check_public_point, check_signature_scalar
from ledger.crypto.keys import SigningKey


def _per_call_us(fn: object, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6  # type: ignore[arg-type]


def main() -> None:
    key = SigningKey.from_private_bytes_raw(bytes(range(32)))
    public = key.public_key
    message = b"medledger/entry/v2\n" + b"x" * 400
    sig = key.sign(message)
    point = _per_call_us(lambda: check_public_point(public.raw), 200)
    scalar = _per_call_us(lambda: check_signature_scalar(sig), 100_000)
    verify = _per_call_us(lambda: public.verify(message, sig), 2_000)
    print(f"point check (once per key):        {point:8.1f} us")
    print(f"S < L check (once per signature):  {scalar:8.3f} us")
    print(f"PublicKey.verify (S check+OpenSSL):{verify:8.1f} us")
    print(f"S check share of a verification:   {scalar / verify:8.2%}")


if __name__ == "__main__":
    main()
