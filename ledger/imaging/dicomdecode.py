"""Decode a DICOM file's pixel data with pydicom (pylibjpeg, -libjpeg, -openjpeg, -rle).

pydicom 3's ``pydicom.pixels`` decoders are used as they are; no codec here.
Values are the *stored* values: ``raw=True``, so pydicom applies no YBR->RGB
conversion of its own. Two transformations that belong to the codecs remain:
JPEG 2000's inverse multi-component transform (YBR_RCT/YBR_ICT decode to RGB,
as every J2K decoder does) and the removal of YBR_FULL_422 chroma
sub-sampling in native data (pydicom always expands it). pydicom's unused-bit
and JPEG-LS/J2K sign corrections are kept (they recover the stored values).

Every message names the file and a reason, never a header value: pydicom's own
exception text can quote element values, so it is never passed on, and causes
are dropped (``from None``).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.utils import as_pixel_options
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from ledger.errors import InputError, PolicyError
from ledger.imaging.attrs import tag, value
from ledger.imaging.encapsulated import Header, check_frames
from ledger.imaging.inflate import read_deflated
from ledger.imaging.limits import DecodeLimits
from ledger.imaging.storedbits import beyond_bits_stored

PIXEL_DATA = 0x7FE00010
PIXEL_TAGS = {
    0x7FE00010: "PixelData",
    0x7FE00008: "FloatPixelData",
    0x7FE00009: "DoubleFloatPixelData",
}
_BITS_ALLOCATED = (1, 8, 16, 32, 64)


@dataclass(frozen=True, eq=False)
class DicomPixels:
    dataset: Dataset  # the header, pixel data removed
    pixels: np.ndarray  # (frames, rows, columns, samples)
    color: str  # photometric interpretation of ``pixels``
    bits_stored: int
    signed: bool
    transfer_syntax: str  # UID
    beyond_bits_stored: int = 0  # native data: words with bits set above High Bit (storedbits)


def read_dataset(name: str, data: bytes, *, has_preamble: bool, limits: DecodeLimits) -> Dataset:
    """Parse the header (and keep the encoded pixel data, still undecoded).

    A deflated data set is inflated here under ``limits`` (:mod:`ledger.imaging.inflate`),
    never by pydicom, which would inflate all of it before reading an element.
    """
    ds: Dataset
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stream = io.BytesIO(data)
            preamble = read_preamble(stream, not has_preamble)
            meta = _read_file_meta_info(stream)
            deflated = meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
            if not deflated:
                ds = pydicom.dcmread(io.BytesIO(data), force=not has_preamble)
    except MemoryError:  # the worker's memory ceiling: its caller refuses the file
        raise
    except Exception as exc:  # pydicom raises many types; none of their text is passed on
        raise InputError(f"malformed DICOM ({type(exc).__name__})", subject=name) from None
    if deflated:
        ds = read_deflated(
            name,
            memoryview(data)[stream.tell() :],
            preamble=preamble,
            meta=meta,
            limit=limits.max_inflated_bytes,
            check_header=lambda header, pixel_tag: _check_header(name, header, pixel_tag, limits),
        )
    if not isinstance(ds, Dataset) or len(ds) == 0:
        raise InputError("malformed or truncated DICOM (no data elements)", subject=name)
    return ds


def decode_pixels(name: str, ds: Dataset, *, limits: DecodeLimits) -> DicomPixels:
    """Check the declared size against ``limits``, then decode every frame once."""
    pixel_tag = next((tag for tag in PIXEL_TAGS if tag in ds), None)
    if pixel_tag is None:
        raise InputError(f"DICOM object has no pixel data ({_sop_class(ds)})", subject=name)
    tsyntax = _transfer_syntax(name, ds)
    rows, columns, frames, samples, bits_allocated, bits_stored, signed = _declared(
        name, ds, pixel_tag, limits
    )
    if tsyntax.is_encapsulated:
        header = Header(rows, columns, samples, bits_allocated)
        check_frames(name, _encoded(name, ds, pixel_tag), tsyntax, header, limits)

    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError:
        raise InputError(f"unsupported transfer syntax {_ts_name(tsyntax)}", subject=name) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            options: dict[str, Any] = as_pixel_options(ds)
            arr, info = decoder.as_array(ds, raw=True, **options)
    except (
        ValueError,
        RuntimeError,
        NotImplementedError,
        ImportError,
        TypeError,
        AttributeError,
        KeyError,
        IndexError,
        EOFError,
        OSError,
    ) as exc:
        raise InputError(_decode_failure(exc, tsyntax), subject=name) from None

    frames = int(info.get("number_of_frames", frames))
    samples = int(info.get("samples_per_pixel", samples))
    expected = frames * rows * columns * samples
    if arr.size != expected:
        raise InputError(
            f"{_ts_name(tsyntax)} pixel data decoded to {arr.size} values, "
            f"expected {expected} (truncated or corrupt)",
            subject=name,
        )
    beyond = 0
    if not tsyntax.is_encapsulated and PIXEL_TAGS[pixel_tag] == "PixelData":
        beyond = beyond_bits_stored(
            ds[pixel_tag].value, bits_allocated=bits_allocated, bits_stored=bits_stored,
            signed=signed, syntax=str(tsyntax),
        )
    del ds[pixel_tag]  # drop the encoded bytes
    return DicomPixels(
        dataset=ds,
        pixels=arr.reshape(frames, rows, columns, samples),
        color=str(info.get("photometric_interpretation", ds.get("PhotometricInterpretation", ""))),
        bits_stored=int(info.get("bits_stored", bits_stored)),
        signed=signed,
        transfer_syntax=str(tsyntax),
        beyond_bits_stored=beyond,
    )


def _declared(
    name: str, ds: Dataset, pixel_tag: int, limits: DecodeLimits
) -> tuple[int, int, int, int, int, int, bool]:
    """Rows, columns, frames, samples, bits allocated and stored, signedness: within limits."""
    rows = _int(name, ds, "Rows", 1, 65535)
    columns = _int(name, ds, "Columns", 1, 65535)
    samples = _int(name, ds, "SamplesPerPixel", 1, 4, default=1)
    frames = _int(name, ds, "NumberOfFrames", 1, 2**31 - 1, default=1)
    if pixel_tag == PIXEL_DATA:
        bits_allocated = _int(name, ds, "BitsAllocated", 1, 64)
        if bits_allocated not in _BITS_ALLOCATED:
            raise InputError("malformed image pixel attribute BitsAllocated", subject=name)
        bits_stored = _int(name, ds, "BitsStored", 1, bits_allocated, default=bits_allocated)
        signed = _int(name, ds, "PixelRepresentation", 0, 1, default=0) == 1
    else:
        bits_allocated = bits_stored = 32 if PIXEL_TAGS[pixel_tag] == "FloatPixelData" else 64
        signed = True
    _check_limits(name, (rows, columns, frames, samples, bits_allocated), limits)
    return rows, columns, frames, samples, bits_allocated, bits_stored, signed


def _check_header(name: str, header: Dataset, pixel_tag: int, limits: DecodeLimits) -> None:
    """The header of a deflated data set, checked before its pixel data is inflated."""
    _declared(name, header, pixel_tag, limits)


def _encoded(name: str, ds: Dataset, pixel_tag: int) -> bytes:
    value = ds[pixel_tag].value
    if not isinstance(value, bytes):
        raise InputError("malformed encapsulated pixel data", subject=name)
    return value


def _check_limits(name: str, dims: tuple[int, int, int, int, int], limits: DecodeLimits) -> None:
    rows, columns, frames, samples, bits_allocated = dims
    pixels = rows * columns * frames
    if pixels > limits.max_pixels:
        raise PolicyError(
            f"decompression bomb: {columns}x{rows} pixels x {frames} frame(s) exceeds "
            f"the limit of {limits.max_pixels} pixels",
            subject=name,
        )
    decoded = pixels * samples * bits_allocated // 8
    if decoded > limits.max_decoded_bytes:
        raise PolicyError(
            f"decompression bomb: {columns}x{rows} pixels x {frames} frame(s) x {samples} "
            f"sample(s) x {bits_allocated} bits would decode to {decoded} bytes, over the "
            f"limit of {limits.max_decoded_bytes} bytes",
            subject=name,
        )


def _transfer_syntax(name: str, ds: Dataset) -> UID:
    meta = getattr(ds, "file_meta", None)
    value = meta.get("TransferSyntaxUID") if meta is not None else None
    if value:
        return UID(str(value))
    # No file meta (or no transfer syntax in it): pydicom inferred the encoding.
    implicit, little = ds.original_encoding
    if implicit is None:
        raise InputError("malformed DICOM (no transfer syntax)", subject=name)
    uid = (
        ImplicitVRLittleEndian
        if implicit
        else (ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    )
    if meta is None:
        ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = uid
    return uid


def _int(
    name: str, ds: Dataset, keyword: str, low: int, high: int, *, default: int | None = None
) -> int:
    try:
        element = tag(keyword)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = ds[element].value if element in ds else None
        if value is None or value == "":
            if default is None:
                raise InputError(f"missing image pixel attribute {keyword}", subject=name)
            return default
        number = int(value)
    except InputError:
        raise
    except Exception:
        raise InputError(f"malformed image pixel attribute {keyword}", subject=name) from None
    if not low <= number <= high:
        raise InputError(f"image pixel attribute {keyword} out of range", subject=name)
    return number


def _decode_failure(exc: Exception, tsyntax: UID) -> str:
    text = str(exc)
    if "less than expected" in text or "insufficient pixel data" in text:
        return "truncated: pixel data is shorter than its header declares"
    if isinstance(exc, ImportError | NotImplementedError):
        return f"no decoder available for {_ts_name(tsyntax)}"
    return f"{_ts_name(tsyntax)} pixel data could not be decoded (truncated or corrupt)"


def _ts_name(uid: UID) -> str:
    # Only names from the standard: a private transfer syntax UID is not echoed.
    return uid.name if uid.is_transfer_syntax and uid.name != str(uid) else "(private)"


def _sop_class(ds: Dataset) -> str:
    """The SOP class's name from the standard (never a private UID or other value)."""
    meta = getattr(ds, "file_meta", None)
    for source, keyword in ((ds, "SOPClassUID"), (meta, "MediaStorageSOPClassUID")):
        found = value(source, keyword) if source is not None else None
        if found:
            uid = UID(str(found))
            if uid.name != str(uid):
                return uid.name
    return "unknown SOP class"
