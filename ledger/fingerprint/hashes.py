"""Perceptual hashes of the canonical 64 x 64 thumbnail, tagged with algorithm and version.

Input: :func:`ledger.imaging.render.thumbnail` (float32, 64 x 64, 0..255).
``T64`` is that thumbnail rounded to 8 bits; ``T32`` is the thumbnail
area-averaged 2 x 2 to 32 x 32 (``((a + b) + (c + d)) / 4`` in float64),
rounded to 8 bits.

* ``phash`` v1 (64 bits): the 8 x 8 lowest frequencies of the 2-D DCT-II of
  ``T32``, each bit "coefficient > their median": exactly
  ``imagehash.phash(T32)`` (imagehash 4.3; a test keeps them equal).
* ``phash-dihedral`` v1 (8 x 64 bits): ``phash`` of the eight flips and
  rotations of ``T32``, in the order (t, r, c) = 000, 001, ..., 111 where the
  variant is ``x.T`` if t, then ``[::-1, :]`` if r, then ``[:, ::-1]`` if c
  (so: identity, mirror left-right, mirror top-bottom, rotate 180, transpose,
  rotate 90 clockwise, rotate 90 anticlockwise, anti-transpose). Entry 0 is
  ``phash``. A flipped or rotated copy's ``phash`` is one of the original's
  variants. All eight come from one DCT, as in PDQ: a flip negates the odd
  frequencies along its axis, a transpose transposes the coefficients.
* ``phash256`` v1 (256 bits): the same on ``T64`` with 16 x 16 coefficients:
  exactly ``imagehash.phash(T64, hash_size=16)``.
* ``dhash`` v1 (64 bits): imagehash's difference hash (bit = "pixel < its right
  neighbour" on a 9 x 8 grid, row by row) on ``T64`` area-averaged to 9 x 8
  (exact fractional areas) rather than imagehash's Lanczos resize, which alone
  costs about as much as all the other hashes together.

Hashes are lowercase hex, most significant bit first (imagehash's ``str``).
Coefficients are rounded to 1e-6 before comparison so that exact ties (flat or
symmetric images) resolve the same way whatever the floating-point noise;
imagehash can differ from us only on such ties.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

THUMBNAIL_SIZE = 64
_BITS = {"phash": 64, "dhash": 64, "phash256": 256}
VERSIONS = {"phash": 1, "dhash": 1, "phash256": 1, "phash-dihedral": 1}
DIHEDRAL_VARIANTS = (
    "identity",
    "mirror-lr",
    "mirror-tb",
    "rotate-180",
    "transpose",
    "rotate-90-cw",
    "rotate-90-ccw",
    "anti-transpose",
)


def dct_matrix(n: int, rows: int) -> np.ndarray:
    """The first ``rows`` rows of scipy.fftpack.dct type II, unnormalised: y = D @ x."""
    k = np.arange(rows)[:, np.newaxis]
    i = np.arange(n)[np.newaxis, :]
    return 2.0 * np.cos(math.pi * k * (2 * i + 1) / (2 * n))


def _area_matrix(n: int, out: int) -> np.ndarray:
    """Rows average ``n`` inputs into ``out`` outputs by exact fractional overlap."""
    edges = np.arange(out + 1) * (n / out)
    left, right = edges[:-1, np.newaxis], edges[1:, np.newaxis]
    pixel = np.arange(n)[np.newaxis, :]
    overlap = np.clip(np.minimum(right, pixel + 1) - np.maximum(left, pixel), 0.0, None)
    return np.asarray(overlap / (n / out), dtype=np.float64)


_D32 = dct_matrix(32, 8)
_D64 = dct_matrix(64, 16)
_ODD = np.where(np.arange(8) % 2, -1.0, 1.0)
_VARIANTS = np.arange(8)
_TRANSPOSED = (_VARIANTS >> 2) & 1


def _dihedral_signs() -> np.ndarray:
    """Sign of each 8 x 8 coefficient per variant: (-1)^u if rows flip, (-1)^v if columns do."""
    signs = np.ones((8, 8, 8))
    for variant in range(8):
        if variant & 2:
            signs[variant] *= _ODD[:, np.newaxis]
        if variant & 1:
            signs[variant] *= _ODD[np.newaxis, :]
    return signs


_SIGNS = _dihedral_signs()
DIHEDRAL_SIGNS = _SIGNS  # shared with the similarity descriptor
_HEX = frozenset("0123456789abcdef")
_ROWS8 = _area_matrix(64, 8)
_COLS9 = _area_matrix(64, 9)


@dataclass(frozen=True)
class Hash:
    """One perceptual hash; values of different ``alg`` or ``v`` are never compared."""

    alg: str
    v: int
    hex: str

    def __post_init__(self) -> None:
        bits = _BITS.get(self.alg)
        if bits is None or self.v != VERSIONS[self.alg]:
            raise ValueError(f"unknown hash {self.alg} v{self.v}")
        if len(self.hex) != bits // 4 or not _is_hex(self.hex):
            raise ValueError(f"{self.alg} must be {bits // 4} lowercase hex digits")

    def to_json(self) -> dict[str, Any]:
        return {"alg": self.alg, "v": self.v, "hex": self.hex}

    def distance(self, other: Hash) -> int:
        """Hamming distance; ValueError for hashes of another algorithm or version."""
        if (self.alg, self.v) != (other.alg, other.v):
            raise ValueError(f"cannot compare {self.alg} v{self.v} with {other.alg} v{other.v}")
        return hamming(self.hex, other.hex)


@dataclass(frozen=True)
class Fingerprints:
    phash: Hash
    dhash: Hash
    phash256: Hash
    dihedral: tuple[str, ...]  # 8 phash hex values, DIHEDRAL_VARIANTS order; [0] == phash

    def to_json(self) -> dict[str, Any]:
        return {
            "phash": self.phash.to_json(),
            "dhash": self.dhash.to_json(),
            "phash256": self.phash256.to_json(),
            "phash-dihedral": {
                "alg": "phash-dihedral",
                "v": VERSIONS["phash-dihedral"],
                "hex": list(self.dihedral),
            },
        }


def fingerprints(thumb: np.ndarray) -> Fingerprints:
    """All hashes from a 64 x 64 float thumbnail on 0..255 (see the module docstring)."""
    if thumb.shape != (THUMBNAIL_SIZE, THUMBNAIL_SIZE):
        raise ValueError(f"thumbnail must be {THUMBNAIL_SIZE}x{THUMBNAIL_SIZE}")
    t = thumb.astype(np.float64)
    t64 = _to_u8(t)
    t32 = _to_u8(((t[0::2, 0::2] + t[1::2, 0::2]) + (t[0::2, 1::2] + t[1::2, 1::2])) * 0.25)
    low = _rounded(_D32 @ t32 @ _D32.T)
    variants = (np.stack((low, low.T))[_TRANSPOSED] * _SIGNS).reshape(8, 64)
    dihedral = _median_bits_hex(variants)
    low256 = _rounded(_D64 @ t64 @ _D64.T).reshape(1, 256)
    grid = _rounded(_ROWS8 @ t64 @ _COLS9.T)
    dhash = _pack_hex((grid[:, 1:] > grid[:, :-1]).reshape(1, 64))
    return Fingerprints(
        phash=Hash("phash", VERSIONS["phash"], dihedral[0]),
        dhash=Hash("dhash", VERSIONS["dhash"], dhash[0]),
        phash256=Hash("phash256", VERSIONS["phash256"], _median_bits_hex(low256)[0]),
        dihedral=dihedral,
    )


def hamming(a: str, b: str) -> int:
    if len(a) != len(b):
        raise ValueError("hashes of different lengths")
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _median_bits_hex(rows: np.ndarray) -> tuple[str, ...]:
    """Per row: bit = value > the row's median (mean of the two middle values)."""
    n = rows.shape[1]
    ordered = np.sort(rows, axis=1)
    median = (ordered[:, n // 2 - 1] + ordered[:, n // 2]) / 2.0
    return _pack_hex(rows > median[:, np.newaxis])


def _pack_hex(bits: np.ndarray) -> tuple[str, ...]:
    return tuple(row.tobytes().hex() for row in np.packbits(bits, axis=1))


def _rounded(values: np.ndarray) -> np.ndarray:
    return np.round(values, 6) + 0.0  # + 0.0 turns -0.0 into 0.0


def _to_u8(values: np.ndarray) -> np.ndarray:
    """Rounded to 8-bit levels, kept as float64 for the matrix products."""
    return np.asarray(np.clip(np.rint(values), 0.0, 255.0), dtype=np.float64)


def _is_hex(text: str) -> bool:
    return _HEX.issuperset(text)
