"""EXIF thumbnails (IFD1) written by hand here, as a camera lays them out (Exif 2.32 4.5.4)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from ledger.forensics.signal import Level

from .samples import named, screened


def exif_with_thumbnail(thumb_jpeg: bytes) -> bytes:
    """APP1 payload: TIFF header, IFD0 (Make), IFD1 (thumbnail offset and length), thumbnail."""
    make = b"Canon\x00"
    ifd0_at = 8
    ifd0 = struct.pack("<H", 1)
    ifd1_at = ifd0_at + 2 + 12 + 4
    make_at = ifd1_at + 2 + 2 * 12 + 4
    thumb_at = make_at + len(make)
    ifd0 += struct.pack("<HHII", 0x010F, 2, len(make), make_at) + struct.pack("<I", ifd1_at)
    ifd1 = struct.pack("<H", 2)
    ifd1 += struct.pack("<HHII", 0x0201, 4, 1, thumb_at)
    ifd1 += struct.pack("<HHII", 0x0202, 4, 1, len(thumb_jpeg)) + struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", ifd0_at) + ifd0 + ifd1 + make + thumb_jpeg
    return b"Exif\x00\x00" + tiff


def jpeg_bytes(rgb: np.ndarray, size: tuple[int, int] | None = None) -> bytes:
    img = Image.fromarray(rgb)
    if size is not None:
        img = img.resize(size, Image.Resampling.BILINEAR)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


def photo(path: Path, main: np.ndarray, thumb: bytes) -> Path:
    Image.fromarray(main).save(path, "JPEG", quality=92, exif=exif_with_thumbnail(thumb))
    return path


def test_the_cameras_own_thumbnail_is_no_signal(tmp_path: Path) -> None:
    main = data.astronaut()[::2, ::2]
    path = photo(tmp_path / "same.jpg", main, jpeg_bytes(main, (160, 160)))
    assert not named(screened(path), "exif.thumbnail_differs")


def test_a_letterboxed_thumbnail_of_the_same_image_is_no_signal(tmp_path: Path) -> None:
    main = data.coffee()[::2, ::2]  # 200 x 300
    box = np.zeros((120, 160, 3), np.uint8)
    box[7:113] = np.asarray(Image.fromarray(main).resize((160, 106)))
    path = photo(tmp_path / "boxed.jpg", main, jpeg_bytes(box))
    assert not named(screened(path), "exif.thumbnail_differs")


def test_a_thumbnail_of_another_picture_is_flagged(tmp_path: Path) -> None:
    main = data.astronaut()[::2, ::2]
    other = data.chelsea()[:256, :256]
    path = photo(tmp_path / "edited.jpg", main, jpeg_bytes(other, (160, 160)))
    [signal] = named(screened(path), "exif.thumbnail_differs")
    assert signal.level == Level.MEDIUM and "does not show this image" in signal.evidence


def test_a_crop_after_capture_changes_the_aspect_ratio(tmp_path: Path) -> None:
    original = data.coffee()[::2, ::2]  # 200 x 300, the camera's framing
    cropped = np.ascontiguousarray(original[:, 50:250])  # square crop made later
    path = photo(tmp_path / "cropped.jpg", cropped, jpeg_bytes(original, (160, 106)))
    [signal] = named(screened(path), "exif.thumbnail_differs")
    assert "aspect ratio" in signal.evidence
