"""``pixel_sha256``: SHA-256 over a canonical form of the decoded stored values.

The canonical form (a contract; docs/imaging.md) is::

    b"medledger-pixels/v1 " + DTYPE + b" " + F + b"x" + R + b"x" + C + b"x" + S + b"\\n"
    + the samples as C-contiguous little-endian bytes, in (frame, row, column, sample) order

* DTYPE names the canonical sample type in NumPy's little-endian notation:
  ``|u1`` ``|i1`` ``<u2`` ``<i2`` ``<u4`` ``<i4`` ``<u8`` ``<i8`` ``<f4`` ``<f8``.
  Integers use the narrowest of 1, 2, 4 or 8 bytes that holds Bits Stored
  (DICOM) or the decoded sample size (photos), signed when Pixel
  Representation is 1, widened to the decoded container if a value does not
  fit. So the same 12-bit values stored in 16-bit words, in either byte order
  and any lossless transfer syntax, give one digest.
* F, R, C, S: frames, rows, columns, samples per pixel, in decimal ASCII.

Per-frame digests use the same form with F = 1, so a frame's digest equals the
``pixel_sha256`` of a single-frame image holding just that frame.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

FORM = "medledger-pixels/v1"


@dataclass(frozen=True)
class PixelDigests:
    pixel_sha256: str
    frame_sha256: tuple[str, ...]  # one per frame for multi-frame images, else empty
    form: str  # canonical dtype and shape, e.g. "<i2 1x512x512x1"


def canonical_dtype(pixels: np.ndarray, *, bits_stored: int, signed: bool) -> np.dtype:
    """The little-endian dtype the digest is computed over (see module docstring)."""
    kind = pixels.dtype.kind
    if kind == "f":
        return pixels.dtype.newbyteorder("<")
    if kind == "b":
        return np.dtype("u1")
    if kind not in "ui":
        raise TypeError(f"unsupported sample type {pixels.dtype}")
    size = next(n for n in (1, 2, 4, 8) if bits_stored <= 8 * n)
    target = np.dtype(f"<{'i' if signed else 'u'}{size}")
    if (target.itemsize < pixels.dtype.itemsize or target.kind != kind) and not _fits(
        pixels, target
    ):
        target = np.dtype(f"<{'i' if signed else 'u'}{pixels.dtype.itemsize}")
        if not _fits(pixels, target):
            target = pixels.dtype.newbyteorder("<")
    return target


def header(dtype: np.dtype, shape: tuple[int, int, int, int]) -> bytes:
    frames, rows, columns, samples = shape
    return f"{FORM} {dtype.str} {frames}x{rows}x{columns}x{samples}\n".encode("ascii")


def pixel_digests(pixels: np.ndarray, *, bits_stored: int, signed: bool) -> PixelDigests:
    """Digests of ``pixels``, shaped (frames, rows, columns, samples)."""
    if pixels.ndim != 4:
        raise ValueError("pixels must have shape (frames, rows, columns, samples)")
    dtype = canonical_dtype(pixels, bits_stored=bits_stored, signed=signed)
    canonical = pixels if pixels.dtype == dtype else pixels.astype(dtype)
    canonical = np.ascontiguousarray(canonical)
    count, rows, columns, samples = canonical.shape
    shape = (int(count), int(rows), int(columns), int(samples))
    whole = hashlib.sha256(header(dtype, shape))
    whole.update(canonical.data.cast("B"))
    frames: tuple[str, ...] = ()
    if shape[0] > 1:
        frame_header = header(dtype, (1, *shape[1:]))
        frames = tuple(_frame_digest(frame_header, frame) for frame in canonical)
    form = f"{dtype.str} {'x'.join(str(n) for n in shape)}"
    return PixelDigests(pixel_sha256=whole.hexdigest(), frame_sha256=frames, form=form)


def _frame_digest(frame_header: bytes, frame: np.ndarray) -> str:
    digest = hashlib.sha256(frame_header)
    digest.update(frame.data.cast("B"))
    return digest.hexdigest()


def _fits(pixels: np.ndarray, target: np.dtype) -> bool:
    if pixels.size == 0:
        return True
    info = np.iinfo(target)
    return int(pixels.min()) >= info.min and int(pixels.max()) <= info.max
