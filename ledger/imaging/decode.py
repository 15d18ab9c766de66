"""Decode an image file once: read its bytes, sniff the format, decode the pixels.

The format is detected from the content, never the extension: DICOM with a
preamble (``DICM`` at offset 128; the preamble is checked for polyglots), DICOM
without preamble or file meta (a data set starting with a group 0002 or 0008
element, either byte order), PNG, JPEG, TIFF, BMP and WebP. Anything else is
refused as not an image.

The result holds the stored pixel values of every frame and the small header
handles that metadata and de-identification need; the file's bytes are
released once decoded (the DICOM data set loses its pixel data element).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydicom.dataset import Dataset

from ledger.errors import InputError
from ledger.imaging.dicomdecode import decode_pixels, read_dataset
from ledger.imaging.limits import DecodeLimits
from ledger.imaging.photodecode import decode_photo
from ledger.imaging.preamble import DICM_OFFSET, PreambleKind, check_preamble
from ledger.imaging.readfile import read_file

Format = Literal["dicom", "png", "jpeg", "tiff", "bmp", "webp"]

_DATASET_GROUPS = (0x0002, 0x0008)


@dataclass(frozen=True, eq=False)
class Decoded:
    """One decoded image. Internal to a worker: not meant to be pickled or stored."""

    name: str  # the path as given, for messages
    file_sha256: str
    file_size: int
    format: Format
    pixels: np.ndarray  # (frames, rows, columns, samples), stored values, any byte order
    color: str  # DICOM photometric interpretation of ``pixels``, or the Pillow mode
    bits_stored: int  # significant bits per sample
    signed: bool  # integer samples are two's complement (floats: True)
    dataset: Dataset | None = None  # DICOM header without pixel data
    transfer_syntax: str | None = None  # DICOM transfer syntax UID
    preamble: PreambleKind | None = None  # DICOM files with a preamble
    exif: dict[str, str] | None = None  # photos: Make / Model / Software
    photo_identifying: tuple[str, ...] = ()  # photos: identifying metadata names present
    # Photos: the file's bytes, for the screening's metadata readers (C2PA, text chunks,
    # EXIF). DICOM: empty; the header is ``dataset`` and the encoded pixels are released.
    data: bytes = b""
    beyond_bits_stored: int = 0  # DICOM native data: words with bits set above High Bit

    @property
    def frames(self) -> int:
        return int(self.pixels.shape[0])


def sniff(data: bytes) -> Format | None:
    """The format of ``data`` judged by its first bytes, or None."""
    if len(data) >= DICM_OFFSET + 4 and data[DICM_OFFSET : DICM_OFFSET + 4] == b"DICM":
        return "dicom"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if data.startswith(b"BM") and len(data) >= 26:
        return "bmp"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    if _looks_like_dataset(data):
        return "dicom"
    return None


def decode(path: str | os.PathLike[str], *, limits: DecodeLimits) -> Decoded:
    """Read ``path`` once and decode it; InputError/PolicyError name the file and reason."""
    name = os.fspath(path)
    file = read_file(name, max_bytes=limits.max_file_bytes)
    fmt = sniff(file.data)
    if fmt is None:
        raise InputError(
            "not a recognised image format (DICOM, PNG, JPEG, TIFF, BMP, WebP)", subject=name
        )
    if fmt != "dicom":
        photo = decode_photo(name, file.data, fmt, limits=limits)
        bits, signed = _photo_bits(photo.pixels.dtype)
        return Decoded(
            name=name,
            file_sha256=file.sha256,
            file_size=file.size,
            format=fmt,
            pixels=photo.pixels,
            color=photo.mode,
            bits_stored=bits,
            signed=signed,
            exif=photo.exif,
            photo_identifying=photo.identifying,
            data=file.data,
        )
    has_preamble = file.data[DICM_OFFSET : DICM_OFFSET + 4] == b"DICM"
    preamble = check_preamble(name, file.data[: DICM_OFFSET + 4]) if has_preamble else None
    dataset = read_dataset(name, file.data, has_preamble=has_preamble, limits=limits)
    sha, size = file.sha256, file.size
    del file  # the data set holds the only copy of the encoded pixels now
    dicom = decode_pixels(name, dataset, limits=limits)
    return Decoded(
        name=name,
        file_sha256=sha,
        file_size=size,
        format="dicom",
        pixels=dicom.pixels,
        color=dicom.color,
        bits_stored=dicom.bits_stored,
        signed=dicom.signed,
        dataset=dicom.dataset,
        transfer_syntax=dicom.transfer_syntax,
        preamble=preamble,
        beyond_bits_stored=dicom.beyond_bits_stored,
    )


def _looks_like_dataset(data: bytes) -> bool:
    """A DICOM data set without preamble: starts with a group 0002/0008 element."""
    if len(data) < 8:
        return False
    little, big = struct.unpack_from("<H", data)[0], struct.unpack_from(">H", data)[0]
    return little in _DATASET_GROUPS or big in _DATASET_GROUPS


def _photo_bits(dtype: np.dtype) -> tuple[int, bool]:
    return dtype.itemsize * 8, dtype.kind in "if"
