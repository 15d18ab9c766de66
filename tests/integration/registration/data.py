"""Test images for registration: the public DICOM corpora, and photos made here.

* pydicom's own files live in ``pydicom/data/test_files`` (``get_testdata_file``
  would try the network for pydicom-data's online-only names, so it is not used);
  pydicom-data installs its files as the ``data_store`` package; deid-data's
  ``deid_data.data.get_dataset(name)`` names its folders.
* Photos are synthesised with numpy and Pillow: noise and gradients, nobody's
  face or name (no PHI is ever committed). So are multi-frame DICOM files
  (``multi_frame_dicom``): noise frames in a header with no patient attributes.
* Broken and hostile files (truncated, bombs, polyglots) are built from those.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

import data_store
import numpy as np
import pydicom
from deid_data.data import get_dataset
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

PYDICOM = Path(pydicom.__file__).parent / "data" / "test_files"
PYDICOM_DATA = Path(data_store.__file__).parent / "data"
DEID_FOLDERS = ("animals", "dicom-cookies", "humans", "ultrasounds")


def pydicom_file(name: str) -> Path:
    """A file by name from pydicom's test files, else from pydicom-data."""
    for folder in (PYDICOM, PYDICOM_DATA):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name} is in neither pydicom nor pydicom-data")


def deid_files() -> list[Path]:
    """Every DICOM file of deid-data (fake but realistic patient headers)."""
    found = []
    for name in DEID_FOLDERS:
        folder = get_dataset(name)
        assert folder is not None, f"deid-data has no {name} dataset"
        found += sorted(Path(folder).glob("*.dcm"))
    assert len(found) >= 10, found
    return found


def copy_into(folder: Path, files: Iterable[Path], *, prefix: str = "") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in files:
        target = folder / f"{prefix}{path.name}"
        assert not target.exists(), f"two test files named {path.name}"
        shutil.copyfile(path, target)
        copies.append(target)
    return copies


# --- photos ---------------------------------------------------------------------------------


def noise(seed: int, shape: tuple[int, ...], dtype: str = "uint8") -> np.ndarray:
    rng = np.random.default_rng(seed)
    high = 256 if dtype == "uint8" else 65536
    return rng.integers(0, high, size=shape, dtype=dtype)


def gradient(size: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    return ((x * 5 + y * 3) % 256).astype("uint8")


def make_photos(folder: Path) -> list[Path]:
    """One image per photo format Pillow writes, each with distinct pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "grey.png": (Image.fromarray(gradient()), {}),
        "rgb.png": (Image.fromarray(noise(1, (32, 40, 3))), {}),
        "deep.png": (Image.fromarray(noise(2, (24, 24), "uint16")), {}),
        "photo.jpg": (Image.fromarray(noise(3, (40, 32, 3))), {"quality": 90}),
        "scan.tiff": (Image.fromarray(noise(4, (30, 20))), {}),
        "shot.bmp": (Image.fromarray(noise(5, (16, 24, 3))), {}),
        "lossless.webp": (Image.fromarray(noise(6, (20, 28, 3))), {"lossless": True}),
    }
    paths = []
    for name, (image, options) in made.items():
        image.save(folder / name, **options)
        paths.append(folder / name)
    return paths


def make_pngs(folder: Path, count: int, *, seed: int = 0) -> list[Path]:
    """``count`` small distinct PNGs: img00000.png, img00001.png, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / f"img{i:05d}.png"
        Image.fromarray(rng.integers(0, 256, size=(12, 12), dtype="uint8")).save(path)
        paths.append(path)
    return paths


# --- multi-frame DICOM ----------------------------------------------------------------------

MULTI_FRAME_GREY_BYTE_SC = "1.2.840.10008.5.1.4.1.1.7.2"


def multi_frame_dicom(path: Path, frames: np.ndarray) -> Path:
    """A multi-frame greyscale byte secondary capture of ``frames`` (uint8, frames x rows x
    columns), uncompressed. No patient, study or device attributes at all; fresh UIDs."""
    count, rows, columns = frames.shape
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = MULTI_FRAME_GREY_BYTE_SC, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "OT"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, count
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.ascontiguousarray(frames, dtype=np.uint8).tobytes()
    ds.PatientIdentityRemoved = "YES"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


# --- broken and hostile files ----------------------------------------------------------------


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload)) + kind + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def png_bomb(width: int, height: int) -> bytes:
    """A valid-looking PNG of a few hundred bytes declaring ``width`` x ``height`` grey pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 4096, 9)  # a few rows' worth; the rest is missing
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", rows)
        + png_chunk(b"IEND", b"")
    )


def _pe_stub() -> bytes:
    """DOS header (MZ, e_lfanew = 0x40) and a PE signature with an i386 COFF header."""
    dos = bytearray(64)
    dos[0:2] = b"MZ"
    dos[0x3C:0x40] = struct.pack("<I", 0x40)
    coff = struct.pack("<HHIIIHH", 0x014C, 0, 0, 0, 0, 0xE0, 0x0102)
    return bytes(dos) + b"PE\x00\x00" + coff


def _elf_stub() -> bytes:
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, version 1
    return ident + struct.pack("<HHI", 2, 0x3E, 1)  # ET_EXEC, x86-64


def _zip_stub() -> bytes:
    name = b"readme.txt"
    return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name


PREAMBLES = {
    # name: (bytes put at the start of the 128-byte preamble, word the refusal must contain)
    "pe": (_pe_stub(), "PE"),
    "elf": (_elf_stub(), "ELF"),
    "zip": (_zip_stub(), "ZIP"),
    "macho": (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", "Mach-O"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
    "script": (b"#!/bin/sh\necho polyglot\n", "script"),
}


def with_preamble(source: Path, target: Path, head: bytes) -> Path:
    """A copy of DICOM ``source`` whose 128-byte preamble starts with ``head`` (zero-padded)."""
    data = source.read_bytes()
    assert data[128:132] == b"DICM", f"{source} has no preamble"
    assert len(head) <= 128
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(head.ljust(128, b"\x00") + data[128:])
    return target
