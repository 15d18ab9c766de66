"""An EXIF thumbnail that does not show the image it is embedded in.

Source: CIPA DC-008 (Exif 2.32) 4.5.4: IFD1's JPEGInterchangeFormat (0x0201) and
JPEGInterchangeFormatLength (0x0202) locate a JPEG thumbnail written by the camera with the
image. Editors that change the pixels often leave the camera's thumbnail alone, so a
thumbnail of a different picture, crop or framing means the image was changed after
capture (the classic JPEG forensic check; Kee and Farid 2010 use the thumbnail as a camera
signature). Letterbox bars of the thumbnail are trimmed before comparing.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import ExifTags, Image

from ledger.forensics.signal import Level, Sample, Signal

NAME = "exif.thumbnail_differs"
MAX_THUMB_BYTES = 64 * 1024
MAX_THUMB_SIDE = 1024
GRID = 16
MIN_CORRELATION = 0.75
MAX_ASPECT_CHANGE = 0.1


def detect(sample: Sample) -> list[Signal]:
    if sample.format != "jpeg" or b"Exif" not in sample.data[:65536]:
        return []
    thumb = thumbnail(sample.data)
    if thumb is None:
        return []
    frame = sample.pixels[0]
    step = max(1, max(frame.shape[0], frame.shape[1]) // 512)  # a view: no full-size copy
    main = _grey(frame[::step, ::step])
    small = _trim_bars(thumb)
    if small.shape[0] < 8 or small.shape[1] < 8 or main.shape[0] < 8 or main.shape[1] < 8:
        return []
    aspect_main = main.shape[1] / main.shape[0]
    aspect_thumb = small.shape[1] / small.shape[0]
    change = abs(aspect_thumb / aspect_main - 1)
    if change > MAX_ASPECT_CHANGE:
        return [Signal(NAME, min(1.0, 0.5 + change), Level.MEDIUM,
                       f"the EXIF thumbnail's aspect ratio {aspect_thumb:.2f} differs from the "
                       f"image's {aspect_main:.2f}: cropped or reframed after capture")]
    corr = _correlation(_resized(main), _resized(small))
    if corr < MIN_CORRELATION:
        return [Signal(NAME, float(min(1.0, max(0.5, 1 - corr))), Level.MEDIUM,
                       f"the EXIF thumbnail does not show this image (correlation {corr:.2f} "
                       f"at {GRID}x{GRID}, below {MIN_CORRELATION}): changed after capture")]
    return []


def thumbnail(data: bytes) -> np.ndarray | None:
    """The IFD1 JPEG thumbnail as grey float pixels, or None (absent, bad or too large)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(io.BytesIO(data), formats=["JPEG"]) as img:
                raw = img.info.get("exif", b"")
                ifd1 = img.getexif().get_ifd(ExifTags.IFD.IFD1)
            offset, length = int(ifd1.get(0x0201, 0)), int(ifd1.get(0x0202, 0))
            tiff = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
            if not 0 < length <= MAX_THUMB_BYTES or offset <= 0 or offset + length > len(tiff):
                return None
            with Image.open(io.BytesIO(tiff[offset : offset + length]), formats=["JPEG"]) as t:
                if max(t.size) > MAX_THUMB_SIDE:
                    return None
                return np.asarray(t.convert("L"), dtype=np.float64)
        except Exception:  # a broken thumbnail is not evidence; Pillow raises many kinds
            return None


def _grey(frame: np.ndarray) -> np.ndarray:
    f = frame.astype(np.float64)
    if f.shape[2] >= 3:
        return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
    return f[..., 0]


def _trim_bars(grey: np.ndarray, dark: float = 8.0) -> np.ndarray:
    rows = np.flatnonzero(grey.mean(axis=1) > dark)
    cols = np.flatnonzero(grey.mean(axis=0) > dark)
    if rows.size == 0 or cols.size == 0:
        return grey
    return grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _resized(grey: np.ndarray) -> np.ndarray:
    img = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
    return np.asarray(img.resize((GRID, GRID), Image.Resampling.BOX), dtype=np.float64)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if denom == 0.0:
        return 1.0 if float(np.abs(a - b).max()) < 1e-9 else 0.0
    return float((a * b).sum() / denom)
