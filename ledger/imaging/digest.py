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
``pixel_sha256`` of a single-frame image holding just that frame. A multi-frame
image also gets ``frame_root``: the RFC 9162 Merkle tree hash over its frames,
leaf ``i`` = SHA-256(0x00 || frame ``i``'s 32-byte digest), computed with the
log's own tree code. The per-frame digests themselves are returned only up to
``list_frames`` frames; above that, memory stays O(log frames) whatever the count.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ledger.log.hashing import leaf_hash
from ledger.log.tree import append_leaves, root_from_frontier
from ledger.model.images import MAX_FRAMES_LISTED

FORM = "medledger-pixels/v1"
FRAME_BATCH = 1024  # frames hashed per append to the frame tree: bounds memory per image


@dataclass(frozen=True)
class PixelDigests:
    pixel_sha256: str
    frame_sha256: tuple[str, ...]  # per frame, multi-frame images of <= list_frames frames
    form: str  # canonical dtype and shape, e.g. "<i2 1x512x512x1"
    frames: int = 1
    frame_root: str | None = None  # hex RFC 9162 root over the frame digests, multi-frame only


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


def pixel_digests(
    pixels: np.ndarray, *, bits_stored: int, signed: bool, list_frames: int = MAX_FRAMES_LISTED
) -> PixelDigests:
    """Digests of ``pixels``, shaped (frames, rows, columns, samples).

    Multi-frame images get the frame tree's root and, when they have at most
    ``list_frames`` frames, every frame's digest."""
    if pixels.ndim != 4:
        raise ValueError("pixels must have shape (frames, rows, columns, samples)")
    dtype = canonical_dtype(pixels, bits_stored=bits_stored, signed=signed)
    canonical = pixels if pixels.dtype == dtype else pixels.astype(dtype)
    canonical = np.ascontiguousarray(canonical)
    count, rows, columns, samples = canonical.shape
    shape = (int(count), int(rows), int(columns), int(samples))
    whole = hashlib.sha256(header(dtype, shape))
    whole.update(canonical.data.cast("B"))
    listed: tuple[str, ...] = ()
    root: str | None = None
    if shape[0] > 1:
        listed, root = _frame_tree(
            canonical, header(dtype, (1, *shape[1:])), listed=shape[0] <= list_frames
        )
    form = f"{dtype.str} {'x'.join(str(n) for n in shape)}"
    return PixelDigests(
        pixel_sha256=whole.hexdigest(), frame_sha256=listed, form=form, frames=shape[0],
        frame_root=root,
    )  # fmt: skip


def _frame_tree(
    canonical: np.ndarray, frame_header: bytes, *, listed: bool
) -> tuple[tuple[str, ...], str]:
    """The listed frame digests (all or none) and the hex tree root, streamed in batches."""
    digests: list[str] = []
    stack: list[bytes] = []  # the frontier: one subtree hash per set bit of size
    size = 0
    for start in range(0, canonical.shape[0], FRAME_BATCH):
        batch = [_frame_digest(frame_header, f) for f in canonical[start : start + FRAME_BATCH]]
        if listed:
            digests += (d.hex() for d in batch)
        leaves = [leaf_hash(d) for d in batch]
        _, stack = append_leaves(size=size, frontier_hashes=stack, leaf_hashes=leaves)
        size += len(batch)
    return tuple(digests), root_from_frontier(size, stack).hex()


def _frame_digest(frame_header: bytes, frame: np.ndarray) -> bytes:
    digest = hashlib.sha256(frame_header)
    digest.update(frame.data.cast("B"))
    return digest.digest()


def _fits(pixels: np.ndarray, target: np.dtype) -> bool:
    if pixels.size == 0:
        return True
    info = np.iinfo(target)
    return int(pixels.min()) >= info.min and int(pixels.max()) <= info.max
