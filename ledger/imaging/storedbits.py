"""Stored words with bits set above High Bit: what a decoder masks away, counted first.

PS3.5 8.1.1: only Bits Stored bits of each Bits Allocated word carry the value; a modality
writes the others as zero (unsigned) or as the sign's extension (signed). The decoder masks
them, so a word that breaks this is only visible in the native bytes, before decoding:
``beyond_bits_stored`` counts those words (the forensic screening reports them).
"""

from __future__ import annotations

import numpy as np

BIG_ENDIAN = "1.2.840.10008.1.2.2"
CHUNK = 1 << 20  # words per step


def beyond_bits_stored(
    raw: bytes, *, bits_allocated: int, bits_stored: int, signed: bool, syntax: str
) -> int:
    """How many stored words of native pixel data set bits above High Bit (0 if unknown)."""
    if bits_allocated not in (8, 16, 32) or not 0 < bits_stored < bits_allocated:
        return 0
    size = bits_allocated // 8
    order = ">" if syntax == BIG_ENDIAN else "<"
    usable = len(raw) // size * size
    words = np.frombuffer(memoryview(raw)[:usable], dtype=np.dtype(f"{order}u{size}"))
    all_ones = (1 << (bits_allocated - bits_stored + 1)) - 1
    count = 0
    for start in range(0, words.size, CHUNK):  # bounded temporaries, whatever the image size
        part = words[start : start + CHUNK]
        if signed:  # the high bits must all equal the sign bit: 0...0 or 1...1
            high = part >> (bits_stored - 1)
            count += int(np.count_nonzero((high != 0) & (high != all_ones)))
        else:
            count += int(np.count_nonzero(part >> bits_stored))
    return count
