"""Perceptual hashes: equal to imagehash where promised, dihedral variants, tagged values."""

from __future__ import annotations

from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from ledger.fingerprint.hashes import (
    DIHEDRAL_VARIANTS,
    Fingerprints,
    Hash,
    fingerprints,
    hamming,
)
from ledger.imaging.analyse import analyse
from ledger.imaging.limits import DecodeLimits

SECRET = b"0123456789abcdef0123456789abcdef"


def smooth_thumbnail(seed: int) -> np.ndarray:
    """A 64 x 64 float image with structure at every scale (no exact DCT ties)."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8))
    base = np.asarray(coarse.resize((64, 64), Image.Resampling.BICUBIC), dtype=np.float32)
    noisy = np.clip(base + rng.random((64, 64)).astype(np.float32) * 24, 0, 255)
    return np.asarray(noisy, dtype=np.float32)


def t64_t32(thumb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = thumb.astype(np.float64)
    t64 = np.clip(np.rint(t), 0, 255).astype(np.uint8)
    pairs = ((t[0::2, 0::2] + t[1::2, 0::2]) + (t[0::2, 1::2] + t[1::2, 1::2])) * 0.25
    return t64, np.clip(np.rint(pairs), 0, 255).astype(np.uint8)


def variant(x: np.ndarray, index: int) -> np.ndarray:
    t, r, c = (index >> 2) & 1, (index >> 1) & 1, index & 1
    out = x.T if t else x
    out = out[::-1, :] if r else out
    return np.ascontiguousarray(out[:, ::-1] if c else out)


def reference_dhash(t64: np.ndarray) -> str:
    """Slow reference: exact area averages to 9 x 8, then 'left < right' per row."""
    grid = np.zeros((8, 9))
    for row in range(8):
        for column in range(9):
            left, right = column * 64 / 9, (column + 1) * 64 / 9
            total = 0.0
            for x in range(64):
                overlap = max(0.0, min(right, x + 1) - max(left, x))
                total += overlap * t64[row * 8 : row * 8 + 8, x].astype(np.float64).sum()
            grid[row, column] = round(total / (8 * 64 / 9), 6)
    bits = "".join("1" if grid[r, c + 1] > grid[r, c] else "0" for r in range(8) for c in range(8))
    return f"{int(bits, 2):016x}"


@pytest.mark.parametrize("seed", range(25))
def test_equal_to_imagehash(seed: int) -> None:
    thumb = smooth_thumbnail(seed)
    t64, t32 = t64_t32(thumb)
    result = fingerprints(thumb)
    assert result.phash.hex == str(imagehash.phash(Image.fromarray(t32)))
    assert result.phash256.hex == str(imagehash.phash(Image.fromarray(t64), hash_size=16))
    assert result.dihedral == tuple(
        str(imagehash.phash(Image.fromarray(variant(t32, i)))) for i in range(8)
    )
    assert result.dhash.hex == reference_dhash(t64)


def test_variant_order_is_documented() -> None:
    x = np.arange(16).reshape(4, 4)
    named = dict(zip(DIHEDRAL_VARIANTS, (variant(x, i) for i in range(8)), strict=True))
    assert np.array_equal(named["identity"], x)
    assert np.array_equal(named["mirror-lr"], np.fliplr(x))
    assert np.array_equal(named["mirror-tb"], np.flipud(x))
    assert np.array_equal(named["rotate-180"], np.rot90(x, 2))
    assert np.array_equal(named["transpose"], x.T)
    assert np.array_equal(named["rotate-90-cw"], np.rot90(x, -1))
    assert np.array_equal(named["rotate-90-ccw"], np.rot90(x, 1))
    assert np.array_equal(named["anti-transpose"], np.rot90(x, 2).T)


def test_flat_images_hash_deterministically() -> None:
    flat = fingerprints(np.full((64, 64), 100, dtype=np.float32))
    assert flat.phash.hex == "8000000000000000"  # only the DC term exceeds the median
    assert flat.dhash.hex == "0" * 16


@pytest.mark.parametrize("index", range(8))
def test_a_flipped_or_rotated_copy_matches_a_variant(tmp_path: Path, index: int) -> None:
    rng = np.random.default_rng(11)
    coarse = Image.fromarray((rng.random((16, 12)) * 255).astype(np.uint8))
    image = np.asarray(coarse.resize((384, 512), Image.Resampling.BICUBIC))
    original, copy = tmp_path / "original.png", tmp_path / "copy.png"
    Image.fromarray(image).save(original)
    Image.fromarray(variant(image, index)).save(copy)
    limits = DecodeLimits()
    a = analyse(original, secret=SECRET, limits=limits).fingerprints
    b = analyse(copy, secret=SECRET, limits=limits).fingerprints
    assert b.phash.hex == a.dihedral[index]
    if index:
        assert hamming(a.phash.hex, b.phash.hex) > 8  # the plain pHash misses flipped copies


def test_hashes_carry_algorithm_and_version() -> None:
    result = fingerprints(smooth_thumbnail(1))
    document = result.to_json()
    assert document["phash"] == {"alg": "phash", "v": 1, "hex": result.phash.hex}
    assert document["phash-dihedral"]["alg"] == "phash-dihedral"
    assert len(document["phash-dihedral"]["hex"]) == 8
    assert len(document["phash256"]["hex"]) == 64
    assert isinstance(result, Fingerprints)


def test_incompatible_hashes_are_never_compared() -> None:
    a = Hash("phash", 1, "0" * 16)
    b = Hash("dhash", 1, "f" * 16)
    with pytest.raises(ValueError, match="cannot compare phash v1 with dhash v1"):
        a.distance(b)
    assert a.distance(Hash("phash", 1, "0" * 15 + "3")) == 2


@pytest.mark.parametrize(
    ("alg", "v", "hex_"),
    [
        ("phash", 2, "0" * 16),
        ("ahash", 1, "0" * 16),
        ("phash", 1, "0" * 15),
        ("phash", 1, "G" * 16),
    ],
)
def test_invalid_hashes_cannot_exist(alg: str, v: int, hex_: str) -> None:
    with pytest.raises(ValueError):
        Hash(alg, v, hex_)


def test_hamming() -> None:
    assert hamming("ff00", "0f00") == 4
    with pytest.raises(ValueError):
        hamming("ff", "fff")
