"""pixel_sha256: the same stored values in any lossless encoding or byte order agree."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from ledger.imaging.decode import decode
from ledger.imaging.digest import canonical_dtype, pixel_digests
from ledger.imaging.limits import DecodeLimits

from .data import sample

LIMITS = DecodeLimits()

SAME_PIXELS = {
    "MR, every lossless encoding": [
        "MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm", "MR_small_expb.dcm", "MR_small_implicit.dcm",
        "MR_small_padded.dcm",
    ],
    "10-frame 12-bit MR": [
        "emri_small.dcm", "emri_small_RLE.dcm", "emri_small_big_endian.dcm",
        "emri_small_jpeg_2k_lossless.dcm", "emri_small_jpeg_ls_lossless.dcm",
    ],
    "CT, 14 and 16 bits stored in 16": ["693_UNCR.dcm", "693_J2KR.dcm"],
    "CT, lossy J2K and its decompressed copy": ["693_J2KI.dcm", "693_UNCI.dcm"],
    "CR": ["RG3_UNCR.dcm", "RG3_J2KR.dcm"],
    "RGB": ["SC_rgb.dcm", "SC_rgb_expb.dcm", "SC_rgb_rle.dcm", "SC_rgb_jpeg_gdcm.dcm",
            "SC_rgb_gdcm2k_uncompressed.dcm"],
    "RGB 16-bit": ["SC_rgb_16bit.dcm", "SC_rgb_expb_16bit.dcm", "SC_rgb_rle_16bit.dcm"],
    "RGB 32-bit, 2 frames": ["SC_rgb_32bit_2frame.dcm", "SC_rgb_expb_32bit_2frame.dcm",
                             "SC_rgb_rle_32bit_2frame.dcm"],
    "YCbCr 4:4:4 in JPEG and native": ["SC_rgb_jpeg_dcmtk.dcm", "SC_ybr_full_uncompressed.dcm"],
    "RGB J2K (reversible colour transform) and native": ["US1_J2KR.dcm", "US1_UNCR.dcm"],
    "32-bit dose, 15 frames": ["rtdose.dcm", "rtdose_expb.dcm", "rtdose_rle.dcm"],
    "1-bit segmentation": ["liver.dcm", "liver_expb.dcm"],
    "palette indices": ["OBXXXX1A.dcm", "OBXXXX1A_expb.dcm", "OBXXXX1A_rle.dcm"],
    "16-bit palette indices": ["gdcm-US-ALOKA-16.dcm", "gdcm-US-ALOKA-16_big.dcm"],
    "NM": ["JPEG2000.dcm", "JPEG2000_UNC.dcm"],
}  # fmt: skip

DIFFERENT_PIXELS = [
    ("693_J2KI.dcm", "693_J2KR.dcm"),  # lossy vs lossless JPEG 2000 of one CT
    ("RG3_J2KI.dcm", "RG3_J2KR.dcm"),  # lossy vs lossless JPEG 2000 of one radiograph
    ("MR2_J2KI.dcm", "MR2_J2KR.dcm"),
    ("US1_J2KI.dcm", "US1_J2KR.dcm"),
    ("MR_small.dcm", "emri_small.dcm"),
]


def _digest(name: str) -> tuple[str, tuple[str, ...], str]:
    decoded = decode(sample(name), limits=LIMITS)
    digests = pixel_digests(decoded.pixels, bits_stored=decoded.bits_stored, signed=decoded.signed)
    return digests.pixel_sha256, digests.frame_sha256, digests.form


@pytest.mark.parametrize("group", sorted(SAME_PIXELS))
def test_same_pixels_same_digest(group: str) -> None:
    results = {name: _digest(name) for name in SAME_PIXELS[group]}
    assert len(set(results.values())) == 1, results


@pytest.mark.parametrize(("a", "b"), DIFFERENT_PIXELS)
def test_different_pixels_different_digest(a: str, b: str) -> None:
    assert _digest(a)[0] != _digest(b)[0]


def test_mr_small_canonical_form() -> None:
    _, frames, form = _digest("MR_small.dcm")
    assert form == "<i2 1x64x64x1"
    assert frames == ()


def reference_digest(values: np.ndarray, dtype: str) -> str:
    """The contract of docs/imaging.md, spelled out slowly."""
    frames, rows, columns, samples = values.shape
    header = f"medledger-pixels/v1 {dtype} {frames}x{rows}x{columns}x{samples}\n".encode()
    body = b"".join(
        int(v).to_bytes(np.dtype(dtype).itemsize, "little", signed=dtype[1] == "i")
        for v in values.ravel(order="C")
    )
    return hashlib.sha256(header + body).hexdigest()


def test_matches_the_slow_reference() -> None:
    rng = np.random.default_rng(7)
    values = rng.integers(-2048, 2048, size=(3, 5, 7, 1), dtype=np.int16)
    result = pixel_digests(values, bits_stored=12, signed=True)
    assert result.pixel_sha256 == reference_digest(values, "<i2")
    assert result.frame_sha256 == tuple(
        reference_digest(values[i : i + 1], "<i2") for i in range(3)
    )


def test_container_and_byte_order_do_not_matter() -> None:
    rng = np.random.default_rng(8)
    values = rng.integers(0, 4096, size=(1, 16, 16, 1)).astype("<u2")  # 12 bits stored
    forms = [values, values.astype(">u2"), values.astype("<u4"), values.astype(">i4")]
    digests = {pixel_digests(v, bits_stored=12, signed=False).pixel_sha256 for v in forms}
    assert digests == {reference_digest(values, "<u2")}


def test_eight_bits_stored_in_sixteen_is_one_byte() -> None:
    values = np.arange(256, dtype="<u2").reshape(1, 16, 16, 1)
    narrow = pixel_digests(values.astype("u1"), bits_stored=8, signed=False)
    wide = pixel_digests(values, bits_stored=8, signed=False)
    assert narrow == wide
    assert wide.form == "|u1 1x16x16x1"


def test_values_that_do_not_fit_bits_stored_widen() -> None:
    values = np.array([0, 300], dtype="<u2").reshape(1, 1, 2, 1)  # 300 > 8 bits
    assert canonical_dtype(values, bits_stored=8, signed=False) == np.dtype("<u2")


def test_a_frame_digest_equals_the_digest_of_that_frame_alone() -> None:
    _, frames, _ = _digest("emri_small.dcm")
    decoded = decode(sample("emri_small.dcm"), limits=LIMITS)
    third = pixel_digests(decoded.pixels[2:3], bits_stored=12, signed=False)
    assert len(frames) == 10
    assert frames[2] == third.pixel_sha256


def test_floats_are_named_little_endian() -> None:
    values = np.linspace(0, 1, 12, dtype=">f4").reshape(1, 3, 4, 1)
    result = pixel_digests(values, bits_stored=32, signed=True)
    assert result.form == "<f4 1x3x4x1"
    header = b"medledger-pixels/v1 <f4 1x3x4x1\n"
    assert (
        result.pixel_sha256 == hashlib.sha256(header + values.astype("<f4").tobytes()).hexdigest()
    )


def reference_root(digests: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH straight from the definition (leaf 0x00 || d, node 0x01 || l || r)."""
    if len(digests) == 1:
        return hashlib.sha256(b"\x00" + digests[0]).digest()
    k = 1 << ((len(digests) - 1).bit_length() - 1)
    return hashlib.sha256(
        b"\x01" + reference_root(digests[:k]) + reference_root(digests[k:])
    ).digest()


@pytest.mark.parametrize("count", [2, 3, 5, 512, 513, 1024, 1025, 2051])
def test_frame_root_matches_the_slow_reference(count: int) -> None:
    # 2051 crosses the batches the frame tree is streamed in (1024 frames each).
    rng = np.random.default_rng(count)
    values = rng.integers(0, 256, size=(count, 1, 2, 1), dtype=np.uint8)
    result = pixel_digests(values, bits_stored=8, signed=False)
    frames = [reference_digest(values[i : i + 1], "|u1") for i in range(count)]
    assert result.frames == count
    assert result.frame_root == reference_root([bytes.fromhex(f) for f in frames]).hex()
    assert result.frame_sha256 == (tuple(frames) if count <= 512 else ())
    assert result.pixel_sha256 == reference_digest(values, "|u1")


def test_single_frame_has_no_frame_tree() -> None:
    result = pixel_digests(np.zeros((1, 4, 4, 1), dtype=np.uint8), bits_stored=8, signed=False)
    assert (result.frames, result.frame_root, result.frame_sha256) == (1, None, ())


def test_the_listing_cut_off_is_a_parameter() -> None:
    values = np.arange(5 * 3, dtype=np.uint8).reshape(5, 1, 3, 1)
    full = pixel_digests(values, bits_stored=8, signed=False)
    short = pixel_digests(values, bits_stored=8, signed=False, list_frames=4)
    assert len(full.frame_sha256) == 5
    assert short.frame_sha256 == ()
    assert short.frame_root == full.frame_root is not None
