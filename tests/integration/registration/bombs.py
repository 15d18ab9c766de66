"""Decompression bombs whose DICOM header is harmless: the codestream or the inflated data lies.

* ``j2k_image`` / ``jpeg_image`` / ``jpeg_ls_image``: a real 64x64 DICOM in a
  compressed transfer syntax (J2K encoded here with openjpeg; JPEG with Pillow;
  JPEG-LS is pydicom's own MR_small_jpeg_ls_lossless.dcm, as nothing here encodes
  JPEG-LS). ``patch_codestream`` then rewrites the size its frame header declares
  (J2K SIZ Xsiz/Ysiz, JPEG SOF0 or JPEG-LS SOF55 X/Y), nothing else.
* ``deflated_dicom``: a deflated data set written as a stream, never held whole:
  a huge private OB element, or a header declaring 20000x20000, in a file of a
  few hundred kilobytes.

Headers hold no patient attributes (noise images, fresh UIDs).
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from .data import noise, pydicom_file

SIZE = 64
BOMB = 40_000


def _header(rows: int, columns: int, *, bits: int) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "OT"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    ds.PatientIdentityRemoved = "YES"
    return ds


def _meta(ds: Dataset, tsyntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = tsyntax
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return meta


def j2k_image(path: Path) -> Path:
    """64x64 16-bit noise, JPEG 2000 lossless (openjpeg through pydicom)."""
    ds = _header(SIZE, SIZE, bits=16)
    ds.PixelData = noise(3, (SIZE, SIZE), "uint16").tobytes()
    ds.file_meta = _meta(ds, ExplicitVRLittleEndian)
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def jpeg_image(path: Path) -> Path:
    """64x64 8-bit noise, JPEG baseline (Pillow's encoder), one fragment."""
    ds = _header(SIZE, SIZE, bits=8)
    stream = io.BytesIO()
    Image.fromarray(noise(4, (SIZE, SIZE))).save(stream, format="JPEG", quality=95)
    ds.PixelData = encapsulate([stream.getvalue()])
    ds["PixelData"].VR = "OB"
    ds.LossyImageCompression = "01"
    ds.file_meta = _meta(ds, JPEGBaseline8Bit)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def jpeg_ls_image(path: Path) -> Path:
    """pydicom's 64x64 JPEG-LS lossless MR image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pydicom_file("MR_small_jpeg_ls_lossless.dcm").read_bytes())
    return path


def patch_codestream(path: Path, *, columns: int = BOMB, rows: int = BOMB) -> Path:
    """Rewrite the size the first frame header in ``path`` declares (in place)."""
    data = bytearray(path.read_bytes())
    siz = data.find(b"\xff\x4f\xff\x51")
    if siz >= 0:  # JPEG 2000: Xsiz, Ysiz after Lsiz and Rsiz; the offsets are 0 here
        assert struct.unpack_from(">II", data, siz + 16) == (0, 0)
        struct.pack_into(">II", data, siz + 8, columns, rows)
    else:  # JPEG SOF0 or JPEG-LS SOF55: length, precision, Y, X
        sof = min(i for i in (data.find(b"\xff\xc0"), data.find(b"\xff\xf7")) if i >= 0)
        struct.pack_into(">HH", data, sof + 5, rows, columns)
    path.write_bytes(bytes(data))
    return path


# --- deflated data sets, compressed as a stream ----------------------------------------------

PRIVATE_GROUP = 0x0009
_CHUNK = 1 << 20


def deflated_dicom(path: Path, *, rows: int, columns: int, private_ob: int = 0) -> Path:
    """A deflated 8-bit image of ``rows`` x ``columns`` (zero pixels), optionally holding a
    private OB element of ``private_ob`` zero bytes; written without holding either."""
    ds = _header(rows, columns, bits=8)
    if private_ob:
        ds.add_new((PRIVATE_GROUP, 0x0010), "LO", "MEDLEDGER TEST")
        ds.add_new((PRIVATE_GROUP, 0x1010), "OB", b"\x00" * 8)  # placeholder, length patched
    ds.add_new((0x7FE0, 0x0010), "OB", b"\x00" * 8)  # placeholder, length patched
    encoded = _explicit_little(ds)
    compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write(b"\x00" * 128 + b"DICM")
        meta = DicomBytesIO()
        write_file_meta_info(meta, _meta(ds, DeflatedExplicitVRLittleEndian))
        out.write(meta.getvalue())
        pos = 0
        huge = [(PRIVATE_GROUP, 0x1010, private_ob)] if private_ob else []
        for group, element, length in [*huge, (0x7FE0, 0x0010, rows * columns)]:
            placeholder = struct.pack("<HH2sHI", group, element, b"OB", 0, 8)
            at = encoded.index(placeholder)
            out.write(compressor.compress(encoded[pos:at]))
            out.write(compressor.compress(struct.pack("<HH2sHI", group, element, b"OB", 0, length)))
            for done in range(0, length, _CHUNK):
                out.write(compressor.compress(bytes(min(_CHUNK, length - done))))
            pos = at + len(placeholder) + 8
        out.write(compressor.compress(encoded[pos:]))
        out.write(compressor.flush())
    return path


def _explicit_little(ds: Dataset) -> bytes:
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_dataset(buffer, ds)
    return buffer.getvalue()
