"""What the pixel-statistics signals look at, and how their statistics become levels.

Every pixel signal analyses one frame (the middle one) of one plane: luminance for colour
(ITU-R BT.601 weights, as JPEG uses), the stored values otherwise, in a fixed-size crop at
the centre, so that its cost does not grow with the image. The crop starts on a multiple
of 8 so that a JPEG's block grid stays where it was. Each signal compares one statistic
with thresholds calibrated on clean controls of the same format class (bench/forensics.py,
docs/forensics.md); ``Calibration`` maps the statistic to a 0..1 score (0.5 at the
"medium" threshold) and to a level.

The crops, their 8-bit rescaling and their spread are computed once per sample and shared by
every module that asks for the same side (``view``): the screening's cost is the statistics,
not five copies of the same crop.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from ledger.forensics.signal import Level, Sample

CROP = 512  # the analysis window's side: the statistics need a few hundred thousand pixels
MIN_SIDE = 32  # smaller images are not judged
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Calibration:
    """Thresholds on one statistic (low < medium < high), from the clean controls."""

    low: float
    medium: float
    high: float

    def level(self, value: float) -> Level:
        if not np.isfinite(value):
            return Level.NONE
        if value >= self.high:
            return Level.HIGH
        if value >= self.medium:
            return Level.MEDIUM
        if value >= self.low:
            return Level.LOW
        return Level.NONE

    def score(self, value: float) -> float:
        """Monotone in ``value``; 0.5 at the medium threshold."""
        if not np.isfinite(value) or value <= 0:
            return 0.0
        return float(value / (value + self.medium))


@dataclass(frozen=True)
class View:
    """One centred crop of a sample, rescaled to 8-bit units, and its robust range."""

    grey: np.ndarray
    spread: float


# Per sample (by identity, dropped with it): side -> View or None.
_VIEWS: weakref.WeakKeyDictionary[Sample, dict[int, Any]] = weakref.WeakKeyDictionary()


def view(sample: Sample, side: int) -> View | None:
    """The shared 8-bit-scaled ``side`` crop of ``sample`` (computed once), or None."""
    views = _VIEWS.setdefault(sample, {})
    if side not in views:
        grey = plane(sample, side)
        if grey is None:
            views[side] = None
        else:
            scaled = to_8bit_scale(grey, sample.bits_stored)
            scaled.setflags(write=False)  # shared by every module: none may change it
            views[side] = View(scaled, spread(scaled))
    found: View | None = views[side]
    return found


def format_class(sample: Sample) -> str:
    """The clean population a sample is compared with: jpeg, dicom or lossless."""
    if sample.format == "jpeg":
        return "jpeg"
    if sample.format == "dicom":
        return "dicom"
    return "lossless"


def plane(sample: Sample, side: int = CROP) -> np.ndarray | None:
    """The middle frame's centred crop as one 2-D float32 plane of stored units, or None."""
    pixels = sample.pixels
    if pixels.ndim != 4 or pixels.shape[0] == 0 or pixels.size == 0:
        return None
    if not np.issubdtype(pixels.dtype, np.integer) and not np.issubdtype(
        pixels.dtype, np.floating
    ):
        return None
    frame = pixels[pixels.shape[0] // 2]
    if min(frame.shape[:2]) < MIN_SIDE:
        return None
    window = crop(frame, side)
    if window.shape[2] >= 3:
        grey = window[..., :3].astype(np.float32) @ _LUMA
    else:
        grey = window[..., 0].astype(np.float32)
    if not np.all(np.isfinite(grey)):
        return None
    return grey


def integer_plane(sample: Sample, side: int = CROP) -> np.ndarray | None:
    """The middle frame's stored integers (green for colour) in the centred crop."""
    pixels = sample.pixels
    if pixels.ndim != 4 or pixels.shape[0] == 0 or not np.issubdtype(pixels.dtype, np.integer):
        return None
    frame = pixels[pixels.shape[0] // 2]
    if min(frame.shape[:2]) < MIN_SIDE:
        return None
    window = crop(frame, side)
    channel = window[..., 1] if window.shape[2] >= 3 else window[..., 0]
    return channel.astype(np.int32)


def crop(a: np.ndarray, side: int = CROP) -> np.ndarray:
    """The centred ``side`` x ``side`` window (or less), starting on a multiple of 8."""
    h, w = a.shape[:2]
    y = max(0, (h - side) // 2) // 8 * 8
    x = max(0, (w - side) // 2) // 8 * 8
    return a[y : y + side, x : x + side]


def to_8bit_scale(grey: np.ndarray, bits_stored: int) -> np.ndarray:
    """Stored units rescaled so that the full stored range spans 0..255."""
    bits = min(max(int(bits_stored), 1), 32)
    if bits <= 8:
        return grey
    return grey * np.float32(255.0 / float((1 << bits) - 1))


def spread(grey: np.ndarray) -> float:
    """The robust range of values (1st to 99th percentile): 0 for a flat image.

    The same figure as ``np.percentile`` (linear interpolation) from one partition.
    """
    flat = grey.ravel()
    n = flat.size
    if n == 0:
        return 0.0
    lo_at, hi_at = 0.01 * (n - 1), 0.99 * (n - 1)
    lo_i, hi_i = int(lo_at), int(hi_at)
    kth = sorted({lo_i, min(lo_i + 1, n - 1), hi_i, min(hi_i + 1, n - 1)})
    part = np.partition(flat, kth)
    lo = part[lo_i] + (lo_at - lo_i) * (part[min(lo_i + 1, n - 1)] - part[lo_i])
    hi = part[hi_i] + (hi_at - hi_i) * (part[min(hi_i + 1, n - 1)] - part[hi_i])
    return float(hi - lo)
