"""Decode photo formats (PNG, JPEG, TIFF, BMP, WebP) with Pillow.

Only the plugin of the format sniffed from the content is allowed to open the
bytes (``Image.open(..., formats=[...])``). The declared size and frame count
are checked against the limits before any pixel data is decoded. Pillow's
global settings are left alone: its DecompressionBombWarning is silenced for
the call only, and its DecompressionBombError (raised at open time above twice
``Image.MAX_IMAGE_PIXELS``) becomes a PolicyError like ours.

Modes: palette images ("P", "PA") are expanded to RGB/RGBA, because a palette
is an encoding choice (optimisers reorder palettes without changing the
image); bilevel "1" becomes "L" (0/255). L, LA, RGB, RGBA, CMYK, YCbCr, I,
I;16, I;16B and F are kept as decoded; any other mode becomes RGB(A).
Pillow reduces 16-bit-per-channel colour PNG/TIFF to 8 bits; the digest then
covers what Pillow decodes.

From the metadata only EXIF Make, Model and Software are returned as values;
of the identifying EXIF fields and PNG text keywords only the names of those
present are returned (GPS, dates, owner, serial numbers, free text).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image

from ledger.errors import InputError, PolicyError
from ledger.imaging.limits import DecodeLimits

PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "bmp": "BMP", "webp": "WEBP"}
_KEPT_MODES = {"L", "LA", "RGB", "RGBA", "CMYK", "YCbCr", "I", "I;16", "I;16B", "F"}
_MODE_BYTES = {"I": 4, "F": 4, "I;16": 2, "I;16B": 2}

_EXIF_VALUES = {
    ExifTags.Base.Make: "Make",
    ExifTags.Base.Model: "Model",
    ExifTags.Base.Software: "Software",
}
_EXIF_IDENTIFYING_IFD0 = (
    ExifTags.Base.Artist,
    ExifTags.Base.ImageDescription,
    ExifTags.Base.HostComputer,
    ExifTags.Base.DateTime,
    ExifTags.Base.XPAuthor,
    ExifTags.Base.XPComment,
    ExifTags.Base.XPSubject,
    ExifTags.Base.XPKeywords,
    ExifTags.Base.XPTitle,
    ExifTags.Base.Copyright,
)
_EXIF_IDENTIFYING_EXIF_IFD = (
    ExifTags.Base.DateTimeOriginal,
    ExifTags.Base.DateTimeDigitized,
    ExifTags.Base.UserComment,
    ExifTags.Base.CameraOwnerName,
    ExifTags.Base.BodySerialNumber,
    ExifTags.Base.LensSerialNumber,
    ExifTags.Base.ImageUniqueID,
    ExifTags.Base.MakerNote,
)
_PNG_TEXT_IDENTIFYING = ("Author", "Comment", "Creation Time", "Description", "Title", "Source")


@dataclass(frozen=True, eq=False)
class PhotoPixels:
    pixels: np.ndarray  # (frames, rows, columns, samples)
    mode: str  # Pillow mode of ``pixels``
    exif: dict[str, str]  # Make / Model / Software, sanitised
    identifying: tuple[str, ...]  # names of identifying metadata present, sorted


def decode_photo(name: str, data: bytes, fmt: str, *, limits: DecodeLimits) -> PhotoPixels:
    label = PILLOW_FORMATS[fmt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning, "possibly corrupt EXIF", ...
        try:
            image = Image.open(io.BytesIO(data), formats=[label])
        except Image.DecompressionBombError:
            raise PolicyError(
                "decompression bomb: declared size exceeds Pillow's limit", subject=name
            ) from None
        except MemoryError:  # the worker's memory ceiling: its caller refuses the file
            raise
        except Exception as exc:
            raise InputError(
                f"malformed {label} file ({type(exc).__name__})", subject=name
            ) from None
        with image:
            frames = _check_limits(name, image, limits)
            try:
                pixels, mode = _decode_frames(name, image, frames)
            except (InputError, PolicyError, MemoryError):
                raise
            except Exception as exc:
                raise InputError(
                    f"{label} pixel data could not be decoded ({_reason(exc)})", subject=name
                ) from None
            exif, identifying = _metadata(image)
    return PhotoPixels(pixels=pixels, mode=mode, exif=exif, identifying=identifying)


def _check_limits(name: str, image: Image.Image, limits: DecodeLimits) -> int:
    width, height = image.size
    frames = int(getattr(image, "n_frames", 1) or 1)
    pixels = width * height * frames
    if width <= 0 or height <= 0:
        raise InputError("image has no pixels", subject=name)
    if pixels > limits.max_pixels:
        raise PolicyError(
            f"decompression bomb: {width}x{height} pixels x {frames} frame(s) exceeds "
            f"the limit of {limits.max_pixels} pixels",
            subject=name,
        )
    bands = 4 if image.mode in ("P", "PA") else len(image.getbands())
    decoded = pixels * bands * _MODE_BYTES.get(image.mode, 1)
    if decoded > limits.max_decoded_bytes:
        raise PolicyError(
            f"decompression bomb: {width}x{height} pixels x {frames} frame(s) would decode "
            f"to about {decoded} bytes, over the limit of {limits.max_decoded_bytes} bytes",
            subject=name,
        )
    return frames


def _decode_frames(name: str, image: Image.Image, count: int) -> tuple[np.ndarray, str]:
    arrays = []
    mode = ""
    for index in range(count):
        if index:
            image.seek(index)
        image.load()  # raises on truncated or corrupt data
        frame = _normalise(image)
        if index and frame.mode != mode:
            raise InputError("frames of different sizes or modes", subject=name)
        mode = frame.mode
        array = np.asarray(frame)
        if array.ndim == 2:
            array = array[:, :, np.newaxis]
        arrays.append(array)
    if arrays and any(a.shape != arrays[0].shape for a in arrays):
        raise InputError("frames of different sizes or modes", subject=name)
    if len(arrays) == 1:  # a view: stacking one frame would only copy it (read-only either way)
        return arrays[0][np.newaxis], mode
    return np.stack(arrays), mode


def _normalise(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in _KEPT_MODES:
        return image
    if mode == "1":
        return image.convert("L")
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    return image.convert("RGBA" if ("A" in mode or "a" in mode) else "RGB")


def _metadata(image: Image.Image) -> tuple[dict[str, str], tuple[str, ...]]:
    try:
        exif = image.getexif()
    except Exception:  # unreadable EXIF is ignored: we only ever read three strings from it
        return {}, ()
    values = {}
    for tag, key in _EXIF_VALUES.items():
        text = _clean(exif.get(tag))
        if text:
            values[key] = text
    present = {ExifTags.TAGS.get(int(tag), "") for tag in _EXIF_IDENTIFYING_IFD0 if tag in exif}
    if ExifTags.IFD.GPSInfo in exif:
        present.add("GPSInfo")
    try:
        sub = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:
        sub = {}
    present |= {ExifTags.TAGS.get(int(tag), "") for tag in _EXIF_IDENTIFYING_EXIF_IFD if tag in sub}
    text_keys = getattr(image, "text", None) if image.format == "PNG" else None
    if isinstance(text_keys, dict):
        present |= {f"PNG text {key}" for key in _PNG_TEXT_IDENTIFYING if key in text_keys}
    return values, tuple(sorted(p for p in present if p))


def _clean(value: object) -> str:
    """A short printable string, or "" (EXIF strings are often NUL-padded or binary)."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return ""
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:64]


def _reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "truncated" in text or isinstance(exc, EOFError):
        return "truncated"
    return type(exc).__name__
