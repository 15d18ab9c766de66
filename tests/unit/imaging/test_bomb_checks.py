"""Checks that run before a decoder: every frame's codestream, and deflated data sets.

Files are built with pydicom and openjpeg (noise images, no patient attributes)
or are pydicom's own; each hostile variant changes one declared value.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from openjpeg.utils import encode_array
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from ledger.errors import InputError, LedgerError, PolicyError
from ledger.imaging.decode import decode
from ledger.imaging.limits import DecodeLimits

from .data import sample

SIZE = 64


def _j2k_dicom(path: Path, frames: list[bytes], *, samples: int = 1, bits: int = 8) -> Path:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    ds.Modality, ds.Rows, ds.Columns = "OT", SIZE, SIZE
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = "RGB" if samples == 3 else "MONOCHROME2"
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    if len(frames) > 1:
        ds.NumberOfFrames = len(frames)
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    return path


def _frame(seed: int, shape: tuple[int, ...] = (SIZE, SIZE), bits: int = 8) -> bytes:
    dtype = np.uint16 if bits > 8 else np.uint8
    array = np.random.default_rng(seed).integers(0, 2**bits, shape, dtype=dtype)
    return bytes(encode_array(array, bits_stored=bits, photometric_interpretation=0))


def _resized(stream: bytes, columns: int, rows: int) -> bytes:
    patched = bytearray(stream)
    struct.pack_into(">II", patched, 8, columns, rows)
    return bytes(patched)


def _refused(path: Path, limits: DecodeLimits | None = None) -> LedgerError:
    with pytest.raises(LedgerError) as caught:
        decode(path, limits=limits or DecodeLimits())
    assert caught.value.subject == str(path)
    return caught.value


def test_multi_frame_j2k_decodes(tmp_path: Path) -> None:
    path = _j2k_dicom(tmp_path / "ok.dcm", [_frame(1), _frame(2), _frame(3)])
    assert decode(path, limits=DecodeLimits()).pixels.shape == (3, SIZE, SIZE, 1)


def test_a_later_frame_that_lies_is_refused_and_named(tmp_path: Path) -> None:
    frames = [_frame(1), _resized(_frame(2), 4000, 4000), _frame(3)]
    error = _refused(_j2k_dicom(tmp_path / "bomb.dcm", frames))
    assert type(error) is InputError
    assert error.message == (
        "JPEG 2000 codestream (frame 2) declares 4000x4000, the header says 64x64"
    )


def test_codestream_with_more_components_than_the_header(tmp_path: Path) -> None:
    path = _j2k_dicom(tmp_path / "rgb.dcm", [_frame(1, (SIZE, SIZE, 3))], samples=1)
    error = _refused(path)
    assert error.message == (
        "JPEG 2000 codestream declares 3 component(s), the header says 1 sample(s) per pixel"
    )


def test_codestream_with_deeper_samples_than_allocated(tmp_path: Path) -> None:
    path = _j2k_dicom(tmp_path / "deep.dcm", [_frame(1, bits=12)], bits=8)
    error = _refused(path)
    assert error.message == (
        "JPEG 2000 codestream declares 12-bit samples, the header allocates 8 bits"
    )


def test_pixel_data_that_starts_with_no_codestream(tmp_path: Path) -> None:
    path = _j2k_dicom(tmp_path / "junk.dcm", [b"\x00" * 64])
    assert _refused(path).message == "JPEG 2000 pixel data does not start with a codestream"


def test_codestream_over_the_limits_is_a_policy_error(tmp_path: Path) -> None:
    # The header's own size is within the limits; the codestream's decoded size is not.
    path = _j2k_dicom(tmp_path / "wide.dcm", [_frame(1, (SIZE, SIZE, 3))], samples=3)
    limits = DecodeLimits(max_decoded_bytes=SIZE * SIZE * 3)
    assert decode(path, limits=limits).pixels.shape == (1, SIZE, SIZE, 3)
    error = _refused(path, DecodeLimits(max_decoded_bytes=SIZE * SIZE * 3 - 1))
    assert type(error) is PolicyError and "decompression bomb" in error.message


# --- deflated data sets ----------------------------------------------------------------------


def test_deflated_file_reads_as_pydicom_reads_it() -> None:
    path = sample("image_dfl.dcm")
    ours = decode(path, limits=DecodeLimits())
    theirs = pydicom.dcmread(path)
    expected = theirs.pixel_array.reshape(ours.pixels.shape)
    assert np.array_equal(ours.pixels, expected)
    assert ours.dataset is not None
    assert ours.dataset.original_encoding == theirs.original_encoding
    assert [e.tag for e in ours.dataset] == [e.tag for e in theirs if e.tag != 0x7FE00010]


def _inflated_size(path: Path) -> int:
    data = path.read_bytes()
    start = 132 + 12 + struct.unpack_from("<I", data, 132 + 8)[0]  # after the file meta
    return len(zlib.decompress(data[start:], -zlib.MAX_WBITS))


def test_inflated_size_limit_is_inclusive() -> None:
    path = sample("image_dfl.dcm")
    size = _inflated_size(path)
    decode(path, limits=DecodeLimits(max_inflated_bytes=size))
    error = _refused(path, DecodeLimits(max_inflated_bytes=size - 1))
    assert type(error) is PolicyError
    assert "decompression bomb: deflated data set" in error.message


def test_truncated_deflate_stream(tmp_path: Path) -> None:
    data = sample("image_dfl.dcm").read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) - 200])
    assert type(_refused(cut)) is InputError


def test_corrupt_deflate_stream(tmp_path: Path) -> None:
    data = bytearray(sample("image_dfl.dcm").read_bytes())
    start = 132 + 12 + struct.unpack_from("<I", data, 132 + 8)[0]
    data[start] = 0xFF  # an invalid block type
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(bytes(data))
    assert _refused(bad).message.startswith("malformed")


def _deflated_copy(source: Path, target: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's own test values (e.g. long UIDs)
        ds = pydicom.dcmread(source)
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        ds.save_as(target, enforce_file_format=True)
    return target


@pytest.mark.parametrize("name", ["MR_small.dcm", "CT_small.dcm", "rtdose.dcm", "SC_rgb.dcm"])
def test_deflated_copies_read_as_pydicom_reads_them(tmp_path: Path, name: str) -> None:
    # pydicom writes sequences and items with undefined lengths: the walk over the inflated
    # element headers follows them, and no legitimate file trips it at its exact size.
    path = _deflated_copy(sample(name), tmp_path / name)
    ours = decode(path, limits=DecodeLimits(max_inflated_bytes=_inflated_size(path)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pydicom.dcmread(path)
        expected = theirs.pixel_array.reshape(ours.pixels.shape)
        assert ours.dataset is not None
        assert [e.tag for e in ours.dataset.iterall()] == [
            e.tag for e in theirs.iterall() if e.tag != 0x7FE00010
        ]
    assert np.array_equal(ours.pixels, expected)
