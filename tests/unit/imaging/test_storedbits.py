"""Words with bits above High Bit, counted in native pixel bytes (PS3.5 8.1.1)."""

from __future__ import annotations

import numpy as np

from ledger.imaging.storedbits import BIG_ENDIAN, beyond_bits_stored

LE = "1.2.840.10008.1.2.1"


def test_unsigned_words_with_high_bits_are_counted() -> None:
    words = np.array([0, 4095, 4096, 65535], dtype="<u2").tobytes()
    assert beyond_bits_stored(words, bits_allocated=16, bits_stored=12, signed=False,
                              syntax=LE) == 2


def test_signed_words_must_extend_their_sign() -> None:
    # -1 and -2048 are sign-extended 12-bit values; -3000 and 2048 are not 12-bit values
    words = np.array([-1, -2048, 2047, -3000, 2048], dtype="<i2").tobytes()
    assert beyond_bits_stored(words, bits_allocated=16, bits_stored=12, signed=True,
                              syntax=LE) == 2


def test_big_endian_and_full_width_words() -> None:
    words = np.array([1, 4096], dtype=">u2").tobytes()
    assert beyond_bits_stored(words, bits_allocated=16, bits_stored=12, signed=False,
                              syntax=BIG_ENDIAN) == 1
    assert beyond_bits_stored(words, bits_allocated=16, bits_stored=16, signed=False,
                              syntax=BIG_ENDIAN) == 0


def test_counted_across_chunks() -> None:
    words = np.zeros(3 * (1 << 20) + 5, dtype="<u2")
    words[[0, 1 << 20, words.size - 1]] = 4096
    assert beyond_bits_stored(words.tobytes(), bits_allocated=16, bits_stored=12, signed=False,
                              syntax=LE) == 3
