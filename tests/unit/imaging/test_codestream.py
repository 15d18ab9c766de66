"""Frame header parsers (JPEG SOF, JPEG-LS SOF55, JPEG 2000 SIZ): what encoders wrote, bounded.

Expectations come from the encoders (Pillow, openjpeg) and pydicom's headers, not
from the parsers; every truncation of a header is an InputError, never an
IndexError or a read past the buffer.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pydicom
import pytest
from openjpeg.utils import encode_array
from PIL import Image
from pydicom.encaps import generate_fragments

from ledger.errors import InputError
from ledger.imaging.codestream import j2k_frame, jpeg_frame

from .data import sample


def _jpeg(mode: str, size: tuple[int, int]) -> bytes:
    rng = np.random.default_rng(7)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(out, format="JPEG")
    return out.getvalue()


@pytest.mark.parametrize(("mode", "size"), [("L", (37, 21)), ("RGB", (64, 48))])
def test_jpeg_frame_is_what_pillow_encoded(mode: str, size: tuple[int, int]) -> None:
    declared = jpeg_frame(_jpeg(mode, size))
    assert (declared.codec, declared.columns, declared.rows) == ("JPEG", *size)
    assert (declared.components, declared.bits) == (len(mode), 8)


def test_jpeg_ls_frame_is_what_the_dicom_header_says() -> None:
    ds = pydicom.dcmread(sample("MR_small_jpeg_ls_lossless.dcm"))
    fragment = next(generate_fragments(ds.PixelData[8:]))  # after the empty offset table item
    declared = jpeg_frame(memoryview(fragment))
    assert declared.codec == "JPEG-LS"
    assert (declared.columns, declared.rows) == (ds.Columns, ds.Rows)
    assert (declared.components, declared.bits) == (ds.SamplesPerPixel, ds.BitsStored)


@pytest.mark.parametrize(("shape", "bits"), [((40, 72), 12), ((32, 48, 3), 8)])
def test_j2k_frame_is_what_openjpeg_encoded(shape: tuple[int, ...], bits: int) -> None:
    rng = np.random.default_rng(1)
    dtype = np.uint16 if bits > 8 else np.uint8
    array = rng.integers(0, 2**bits, shape, dtype=dtype)
    stream = encode_array(array, bits_stored=bits, photometric_interpretation=0)
    declared = j2k_frame(stream)
    components = shape[2] if len(shape) == 3 else 1
    assert (declared.columns, declared.rows) == (shape[1], shape[0])
    assert (declared.components, declared.bits) == (components, bits)


def test_j2k_image_offsets_are_subtracted() -> None:
    stream = bytearray(encode_array(np.zeros((32, 32), np.uint8), photometric_interpretation=0))
    struct.pack_into(">IIII", stream, 8, 132, 82, 100, 50)  # Xsiz, Ysiz, XOsiz, YOsiz
    assert j2k_frame(bytes(stream)).size() == "32x32"


def test_j2k_inside_a_jp2_wrapper() -> None:
    stream = encode_array(np.zeros((32, 40), np.uint8), photometric_interpretation=0)
    box = struct.pack(">I4s", 8 + len(stream), b"jp2c") + stream
    ftyp = struct.pack(">I4s4sI4s", 20, b"ftyp", b"jp2 ", 0, b"jp2 ")
    jp2 = b"\x00\x00\x00\x0cjP  \r\n\x87\n" + ftyp + box
    assert j2k_frame(jp2).size() == "40x32"


def test_every_truncated_header_is_an_input_error() -> None:
    jpeg = _jpeg("L", (8, 8))
    sof = jpeg.index(b"\xff\xc0")
    j2k = encode_array(np.zeros((32, 32), np.uint8), photometric_interpretation=0)
    for parse, data, end in ((jpeg_frame, jpeg, sof + 2 + 11), (j2k_frame, j2k, 4 + 41)):
        for cut in range(end):
            with pytest.raises(InputError):
                parse(memoryview(data)[:cut])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xd8\xff\xda\x00\x02", "no frame header before its scan"),
        (b"\xff\xd8\xff\xe0\x00\x40abc", "runs past the end"),
        (b"\xff\xd8\x00\x00", "expected a marker"),
        (b"\x89PNG\r\n\x1a\n", "does not start with SOI"),
    ],
)
def test_malformed_jpeg(data: bytes, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        jpeg_frame(data)


def test_j2k_with_inconsistent_component_count() -> None:
    stream = bytearray(encode_array(np.zeros((32, 32), np.uint8), photometric_interpretation=0))
    struct.pack_into(">H", stream, 40, 3)  # Csiz 3, but Lsiz leaves room for one component
    with pytest.raises(InputError, match="inconsistent component count"):
        j2k_frame(bytes(stream))


def test_j2k_with_an_empty_image_area() -> None:
    stream = bytearray(encode_array(np.zeros((32, 32), np.uint8), photometric_interpretation=0))
    struct.pack_into(">II", stream, 16, 32, 0)  # XOsiz = Xsiz
    with pytest.raises(InputError, match="empty image area"):
        j2k_frame(bytes(stream))


def test_a_hierarchical_header_counts_before_its_frames() -> None:
    jpeg = _jpeg("L", (32, 32))
    dhp = b"\xff\xde\x00\x0b\x08" + struct.pack(">HH", 4000, 4000) + b"\x01\x01\x11\x00"
    declared = jpeg_frame(jpeg[:2] + dhp + jpeg[2:])
    assert declared.size() == "4000x4000"
