"""The canonical 8-bit rendering: a DICOM and its 8-bit export are perceptual neighbours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from ledger.fingerprint.hashes import hamming
from ledger.imaging.analyse import analyse
from ledger.imaging.decode import decode
from ledger.imaging.limits import DecodeLimits
from ledger.imaging.render import render, thumbnail

from .data import SECRET, sample

LIMITS = DecodeLimits()
EXPORTABLE = [
    "693_UNCR.dcm", "CT_small.dcm", "MR_small.dcm", "RG3_UNCR.dcm", "US1_UNCR.dcm",
    "OBXXXX1A.dcm", "mlut_18.dcm", "vlut_04.dcm", "emri_small.dcm", "examples_ybr_color.dcm",
    "MR2_UNCR.dcm", "eCT_Supplemental.dcm",
]  # fmt: skip


def phash(path: Path) -> str:
    return analyse(path, secret=SECRET, limits=LIMITS).fingerprints.phash.hex


@pytest.mark.parametrize("name", EXPORTABLE)
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_dicom_and_its_8bit_export_are_neighbours(tmp_path: Path, name: str, fmt: str) -> None:
    source = sample(name)
    exported = tmp_path / f"export.{fmt.lower()}"
    Image.fromarray(render(decode(source, limits=LIMITS))).save(exported, format=fmt, quality=90)
    assert hamming(phash(source), phash(exported)) <= 4


def test_different_images_are_far() -> None:
    # vlut_04.dcm is mlut_18.dcm's picture through a VOI LUT instead of a modality LUT
    hashes = [phash(sample(name)) for name in EXPORTABLE if name != "vlut_04.dcm"]
    distances = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) >= 12


def overlap_matrix(n: int, size: int) -> np.ndarray:
    """Slow reference: (size, n) share of each pixel in each of size equal boxes, rows sum 1."""
    width = n / size
    matrix = np.zeros((size, n))
    for box in range(size):
        for pixel in range(n):
            overlap = min((box + 1) * width, pixel + 1) - max(box * width, pixel)
            matrix[box, pixel] = max(0.0, overlap) / width
    return matrix


def box_average(values: np.ndarray, size: int) -> np.ndarray:
    """Slow reference: the exact area average to size x size, fractional pixels included."""
    rows, columns = values.shape
    return overlap_matrix(rows, size) @ values @ overlap_matrix(columns, size).T


@pytest.mark.parametrize("name", EXPORTABLE)
def test_thumbnail_is_the_area_average_of_the_rendering(name: str) -> None:
    decoded = decode(sample(name), limits=LIMITS)
    reference = box_average(render(decoded).astype(np.float64), 64)
    # The thumbnail averages the rendering before its rounding to 8 bits.
    assert np.abs(thumbnail(decoded) - reference).max() <= 0.5 + 1e-3


def ct_dataset(pixels: np.ndarray, **attributes: object) -> Dataset:
    ds = pydicom.dcmread(sample("CT_small.dcm"))
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = pixels.astype("<i2").tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def rendered(tmp_path: Path, ds: Dataset) -> np.ndarray:
    path = tmp_path / "ct.dcm"
    ds.save_as(path, enforce_file_format=True)
    return render(decode(path, limits=LIMITS))


def test_window_follows_the_dicom_formula(tmp_path: Path) -> None:
    stored = np.arange(-1024, 1024, 2, dtype=np.int16).reshape(32, 32)
    ds = ct_dataset(stored, RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40,
                    WindowWidth=400)  # fmt: skip
    hu = stored.astype(np.float64) - 1024
    # PS3.3 C.11.2.1.2.1, LINEAR, output 0..255
    expected = np.where(
        hu <= 40 - 0.5 - 399 / 2, 0,
        np.where(hu > 40 - 0.5 + 399 / 2, 255, ((hu - 39.5) / 399 + 0.5) * 255),
    )  # fmt: skip
    assert np.abs(rendered(tmp_path, ds).astype(np.float64) - expected).max() <= 0.5 + 1e-3


def test_no_window_stretches_minimum_to_maximum(tmp_path: Path) -> None:
    stored = np.linspace(-500, 1500, 16 * 16).astype(np.int16).reshape(16, 16)
    ds = ct_dataset(stored)
    for keyword in ("WindowCenter", "WindowWidth"):
        if keyword in ds:
            delattr(ds, keyword)
    image = rendered(tmp_path, ds)
    assert (int(image.min()), int(image.max())) == (0, 255)


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    stored = np.arange(256, dtype=np.int16).reshape(16, 16)
    normal = rendered(tmp_path, ct_dataset(stored, WindowCenter=128, WindowWidth=256))
    inverted = rendered(
        tmp_path,
        ct_dataset(
            stored, WindowCenter=128, WindowWidth=256, PhotometricInterpretation="MONOCHROME1"
        ),
    )
    assert np.array_equal(inverted.astype(int), 255 - normal.astype(int))


def test_ybr_and_rgb_of_one_image_render_alike() -> None:
    rgb = render(decode(sample("SC_rgb.dcm"), limits=LIMITS)).astype(int)
    ybr = render(decode(sample("SC_ybr_full_uncompressed.dcm"), limits=LIMITS)).astype(int)
    assert np.abs(rgb - ybr).max() <= 2


def test_palette_renders_the_same_from_every_encoding() -> None:
    images = [
        render(decode(sample(n), limits=LIMITS)) for n in ("OBXXXX1A.dcm", "OBXXXX1A_rle.dcm")
    ]
    assert np.array_equal(images[0], images[1])
    assert int(images[0].max()) > 128  # the palette is applied, not the raw indices shown dark


def test_multiframe_renders_the_middle_frame() -> None:
    decoded = decode(sample("emri_small.dcm"), limits=LIMITS)
    assert np.array_equal(render(decoded), render(decoded, frame=5))
    assert not np.array_equal(render(decoded), render(decoded, frame=0))


def test_rendering_is_independent_of_the_encoding() -> None:
    images = [
        render(decode(sample(name), limits=LIMITS))
        for name in ("MR_small.dcm", "MR_small_bigendian.dcm", "MR_small_jp2klossless.dcm")
    ]
    assert np.array_equal(images[0], images[1]) and np.array_equal(images[0], images[2])
