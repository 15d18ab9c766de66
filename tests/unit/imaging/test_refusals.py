"""Bad input is refused with one line naming the file and the reason."""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image

import ledger.imaging.readfile as readfile
from ledger.errors import InputError, LedgerError, PolicyError
from ledger.imaging.analyse import analyse
from ledger.imaging.limits import DecodeLimits

from .data import SECRET, sample

LIMITS = DecodeLimits()


def refused(path: Path | str, limits: DecodeLimits = LIMITS) -> LedgerError:
    with pytest.raises(LedgerError) as caught:
        analyse(path, secret=SECRET, limits=limits)
    text = caught.value.diagnostics()
    assert text.startswith(f"{path}: "), text
    assert "\n" not in text
    return caught.value


def png_bytes(width: int, height: int, body: bytes = b"") -> bytes:
    """A PNG whose IHDR declares width x height 8-bit greyscale; ``body`` is the IDAT data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def image_bytes(fmt: str, size: int = 256) -> bytes:
    rng = np.random.default_rng(3)
    pixels = (rng.random((size, size)) * 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt)
    return out.getvalue()


def test_png_declaring_huge_dimensions_is_a_bomb(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(12_000, 12_000, zlib.compress(bytes(1000))))
    assert path.stat().st_size < 200
    error = refused(path)
    assert isinstance(error, PolicyError)
    assert error.message == (
        "decompression bomb: 12000x12000 pixels x 1 frame(s) exceeds the limit of "
        f"{LIMITS.max_pixels} pixels"
    )


def test_png_beyond_pillows_own_limit_is_a_bomb(tmp_path: Path) -> None:
    # Pillow refuses above twice Image.MAX_IMAGE_PIXELS while opening, before we see the size.
    path = tmp_path / "bigger.png"
    path.write_bytes(png_bytes(100_000, 100_000, zlib.compress(bytes(1000))))
    error = refused(path)
    assert isinstance(error, PolicyError)
    assert error.message == "decompression bomb: declared size exceeds Pillow's limit"


def test_png_over_a_smaller_configured_limit(tmp_path: Path) -> None:
    path = tmp_path / "fine.png"
    path.write_bytes(image_bytes("PNG", 256))
    error = refused(path, DecodeLimits(max_pixels=256 * 255))
    assert isinstance(error, PolicyError)
    analyse(path, secret=SECRET, limits=DecodeLimits(max_pixels=256 * 256))


def dicom_declaring(tmp_path: Path, rows: int, columns: int, frames: int) -> Path:
    ds = pydicom.dcmread(sample("MR_small.dcm"))
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    path = tmp_path / "bomb.dcm"
    ds.save_as(path)
    return path


def test_dicom_declaring_too_many_pixels_is_refused_before_decoding(tmp_path: Path) -> None:
    path = dicom_declaring(tmp_path, 65535, 65535, 1000)
    error = refused(path)
    assert isinstance(error, PolicyError)
    assert error.message == (
        "decompression bomb: 65535x65535 pixels x 1000 frame(s) exceeds the limit of "
        f"{LIMITS.max_pixels} pixels"
    )


def test_dicom_over_the_decoded_size_limit(tmp_path: Path) -> None:
    path = dicom_declaring(tmp_path, 4096, 4096, 4)  # 64 Mpixels x 16 bits = 128 MiB
    error = refused(path, DecodeLimits(max_decoded_bytes=64 * 1024 * 1024))
    assert isinstance(error, PolicyError)
    assert "would decode to 134217728 bytes" in error.message


@pytest.mark.parametrize(("fmt", "keep"), [("PNG", 0.5), ("JPEG", 0.5), ("PNG", 0.98)])
def test_truncated_photo(tmp_path: Path, fmt: str, keep: float) -> None:
    data = image_bytes(fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: int(len(data) * keep)])
    error = refused(path)
    assert isinstance(error, InputError)
    assert f"{fmt} pixel data could not be decoded (truncated)" in error.message


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("MR_small.dcm", "truncated: pixel data is shorter than its header declares"),
        # pydicom reads no element at all when an encapsulated sequence lacks its end
        ("MR_small_jp2klossless.dcm", "truncated"),
        ("MR_small_RLE.dcm", "truncated"),
        ("SC_rgb_jpeg_gdcm.dcm", "truncated"),
    ],
)
def test_truncated_dicom(tmp_path: Path, name: str, reason: str) -> None:
    data = sample(name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) - 2000])
    error = refused(path)
    assert isinstance(error, InputError)
    assert reason in error.message


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.dcm"
    path.write_text("Patient notes, not an image\n")
    assert refused(path).message.startswith("not a recognised image format")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert refused(path).message == "empty file"


def test_directory(tmp_path: Path) -> None:
    assert refused(tmp_path).message == "is a directory, not an image file"


def test_missing_file(tmp_path: Path) -> None:
    assert refused(tmp_path / "gone.dcm").message == "no such file"


def test_symlink_loop(tmp_path: Path) -> None:
    a, b = tmp_path / "a.dcm", tmp_path / "b.dcm"
    a.symlink_to(b)
    b.symlink_to(a)
    assert refused(a).message == "symlink loop"


def test_symlink_to_an_image_is_followed(tmp_path: Path) -> None:
    link = tmp_path / "link.dcm"
    link.symlink_to(sample("MR_small.dcm"))
    assert analyse(link, secret=SECRET, limits=LIMITS).format == "dicom"


def test_fifo_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "pipe.dcm"
    os.mkfifo(path)
    assert refused(path).message == "not a regular file"


def test_unreadable_file(tmp_path: Path, file_modes_bind: Callable[..., Any]) -> None:
    path = tmp_path / "secret.dcm"
    path.write_bytes(sample("MR_small.dcm").read_bytes())
    readable = tmp_path / "readable.dcm"
    readable.write_bytes(path.read_bytes())
    path.chmod(0)

    def attempt() -> tuple[str, str]:
        return refused(path).message, analyse(readable, secret=SECRET, limits=LIMITS).format

    # The same child reads the readable copy: the refusal is the mode's, not the folder's.
    assert file_modes_bind(attempt) == ("permission denied", "dicom")


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    error = refused(sample("MR_small.dcm"), DecodeLimits(max_file_bytes=1000))
    assert isinstance(error, PolicyError)
    assert error.message == "file is 9830 bytes, over the limit of 1000 bytes"


def test_file_that_changes_while_being_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "growing.dcm"
    path.write_bytes(sample("MR_small.dcm").read_bytes())
    real = readfile._read_all

    def read_while_appending(fd: int, size: int) -> bytes:
        data = real(fd, size // 2)
        with path.open("ab") as out:
            out.write(b"\x00" * 16)
        return data + os.read(fd, size)

    monkeypatch.setattr(readfile, "_read_all", read_while_appending)
    assert refused(path).message == "file changed while being read"


def test_file_rewritten_in_place_while_being_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rewritten.dcm"
    original = sample("MR_small.dcm").read_bytes()
    path.write_bytes(original)
    real = readfile._read_all

    def read_while_rewriting(fd: int, size: int) -> bytes:
        data = real(fd, size)
        stat = path.stat()
        path.write_bytes(original[::-1])  # same size, new content
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        return data

    monkeypatch.setattr(readfile, "_read_all", read_while_rewriting)
    assert refused(path).message == "file changed while being read"


def test_limits_are_validated() -> None:
    with pytest.raises(InputError, match="max_pixels must be a positive integer"):
        DecodeLimits(max_pixels=0)
