"""The canonical 8-bit greyscale rendering, and its small thumbnail for fingerprints.

One frame is rendered: the middle one (index frames // 2). The rendering is
``y = (clip(x, lo, hi) - lo) * 255 / (hi - lo)``, inverted (``255 - y``) for
MONOCHROME1, rounded to 8 bits, where ``x`` and ``[lo, hi]`` come from:

* DICOM greyscale: x = stored value; Rescale Slope/Intercept (per-frame or
  shared functional groups first, then the top level); the first VOI window
  (Window Center/Width, LINEAR or LINEAR_EXACT) mapped back to stored values.
  With no window: 8-bit unsigned data without rescale shows as is (0..255),
  anything else is stretched from its minimum to its maximum. Non-linear steps
  (Modality LUT Sequence, VOI LUT Sequence, SIGMOID windows) are applied with a
  lookup table over the frame's values (pydicom's ``apply_modality_lut`` and
  ``apply_voi``), giving x already on 0..255.
* Colour: x = luma 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, float32) on
  0..2^bits-1; for YBR_FULL(_422) and JPEG YCbCr the stored Y is that luma;
  YBR_PARTIAL Y spans 16..235 (x 2^(bits-8)); PALETTE COLOR maps
  each index through the palette (pydicom's ``apply_color_lut``) to its luma.
* Photos: L as is; RGB(A)/CMYK via luma; 16/32-bit and float greyscale
  stretched from minimum to maximum. Alpha is ignored.

The thumbnail is the rendering before rounding, area-averaged to ``size`` x
``size`` (see :func:`thumbnail`): it feeds the perceptual hashes.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut, apply_voi

from ledger.imaging.attrs import texts
from ledger.imaging.attrs import value as _value
from ledger.imaging.decode import Decoded

_LUT_MAX_RANGE = 1 << 16  # value ranges up to this size use a lookup table


_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True, eq=False)
class _Plan:
    """The rendering is (clip(v, lo, hi) - lo) * 255 / (hi - lo), inverted if asked."""

    x: np.ndarray  # 2-D values v, or (rows, columns, samples) colour whose luma is v
    lo: float
    hi: float
    invert: bool
    color: bool = False


def middle_frame(decoded: Decoded) -> int:
    return decoded.frames // 2


def render(decoded: Decoded, *, frame: int | None = None) -> np.ndarray:
    """The canonical rendering of one frame as a (rows, columns) uint8 array."""
    plan = _plan(decoded, middle_frame(decoded) if frame is None else frame)
    values = _luma(plan.x) if plan.color else plan.x
    y = np.clip(values, plan.lo, plan.hi, dtype=np.float32)
    return np.asarray(np.rint(_scale(plan, y)), dtype=np.uint8)


def thumbnail(decoded: Decoded, *, size: int = 64, frame: int | None = None) -> np.ndarray:
    """One frame's rendering (the middle one by default), unrounded, area-averaged to
    (size, size), float32.

    Each pixel weighs the area it shares with a box (exact for fractional box
    edges too, so flips and rotations commute with it). Clipping comes first and
    every later step is affine, so the average is taken of the clipped values
    (or, for colour, of the samples before luma) and scaled afterwards.
    """
    plan = _plan(decoded, middle_frame(decoded) if frame is None else frame)
    small = _box_mean(plan, size)
    return np.asarray(np.clip(_scale(plan, small), 0.0, 255.0), dtype=np.float32)


def _scale(plan: _Plan, clipped: np.ndarray) -> np.ndarray:
    scale = 255.0 / (plan.hi - plan.lo) if plan.hi > plan.lo else 0.0
    y = (clipped - np.float32(plan.lo)) * np.float32(scale)
    return np.float32(255.0) - y if plan.invert else y


def _box_mean(plan: _Plan, size: int) -> np.ndarray:
    """Exact area average of the clipped values (colour: their luma) over size x size boxes.

    Plain NumPy reductions and einsum, no BLAS: a worker process runs one per
    core, and OpenBLAS's own threads spin against each other there (measured:
    five times slower).
    """
    rows, columns = plan.x.shape[:2]
    samples = plan.x.shape[2] if plan.color else 1
    if rows % size or columns % size:
        boxes = _fractional_box_means(plan, size)
    else:
        fy, fx = rows // size, columns // size
        if plan.color:  # luma is linear: average the samples, then weigh them
            values = np.asarray(plan.x, dtype=np.float32).reshape(size, fy, columns * samples)
        else:
            values = np.clip(plan.x, plan.lo, plan.hi, dtype=np.float32).reshape(size, fy, columns)
        strips = np.add.reduce(values, axis=1)  # whole rows at once; float32 is exact here
        sums = np.add.reduce(strips.reshape(size, size, fx, samples), axis=2, dtype=np.float64)
        boxes = sums / float(fx * fy)
    if plan.color:
        return _luma(boxes)
    return np.asarray(boxes[:, :, 0], dtype=np.float64)


def _fractional_box_means(plan: _Plan, size: int) -> np.ndarray:
    """Boxes with fractional edges, each pixel weighted by the area it shares with the box.

    Rows one output row at a time (a strip of input rows, so no full-size float
    copy of a large radiograph is made), then columns on the small result.
    Returns (size, size, samples).
    """
    rows, columns = plan.x.shape[:2]
    samples = plan.x.shape[2] if plan.color else 1
    flat = plan.x.reshape(rows, columns * samples)
    strips = np.empty((size, columns * samples), dtype=np.float64)
    for index, (start, weights) in enumerate(_overlaps(rows, size)):
        block = flat[start : start + weights.size]
        if plan.color:
            values = np.asarray(block, dtype=np.float32)
        else:
            values = np.clip(block, plan.lo, plan.hi, dtype=np.float32)
        strips[index] = np.einsum("i,ij->j", weights, values)
    by_column = strips.reshape(size, columns, samples)
    if columns < size:  # upsampling: every box lies within one or two pixels
        boxes = np.empty((size, size, samples), dtype=np.float64)
        for index, (start, weights) in enumerate(_overlaps(columns, size)):
            block = by_column[:, start : start + weights.size]
            boxes[:, index] = np.einsum("j,ijk->ik", weights.astype(np.float64), block)
        return boxes
    # Downsampling: whole pixels per box by reduceat, the two cut pixels corrected.
    first, cut = _edges(columns, size)
    sums = np.add.reduceat(by_column, first[:-1], axis=1)
    sums -= cut[:-1][np.newaxis, :, np.newaxis] * by_column[:, first[:-1]]
    sums += cut[1:][np.newaxis, :, np.newaxis] * by_column[:, np.minimum(first[1:], columns - 1)]
    return np.asarray(sums / (columns / size), dtype=np.float64)


@cache
def _overlaps(n: int, size: int) -> tuple[tuple[int, np.ndarray], ...]:
    """For each of ``size`` equal boxes over ``n`` pixels: first pixel, area weights (sum 1).

    Memoised (a pure function of two integers; the arrays are read-only).
    """
    width = n / size
    out = []
    for box in range(size):
        left, right = box * width, (box + 1) * width
        first, last = math.floor(left), min(n, math.ceil(right))
        pixels = np.arange(first, last, dtype=np.float64)
        weights = ((np.minimum(right, pixels + 1.0) - np.maximum(left, pixels)) / width).astype(
            np.float32
        )
        weights.setflags(write=False)
        out.append((first, weights))
    return tuple(out)


@cache
def _edges(n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Box edges over ``n`` pixels: the pixel each edge falls in, and how far into it."""
    position = np.arange(size + 1, dtype=np.float64) * (n / size)
    first = np.floor(position).astype(np.intp)
    cut = position - first
    first.setflags(write=False)
    cut.setflags(write=False)
    return first, cut


def _plan(decoded: Decoded, index: int) -> _Plan:
    frame = decoded.pixels[index]
    if decoded.dataset is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _dicom_plan(decoded, decoded.dataset, frame, index)
    return _photo_plan(decoded.color, frame)


def _photo_plan(mode: str, frame: np.ndarray) -> _Plan:
    if mode in ("L", "LA"):
        return _Plan(frame[:, :, 0], 0.0, 255.0, invert=False)
    if mode == "YCbCr":
        return _Plan(frame[:, :, 0], 0.0, 255.0, invert=False)
    if mode == "CMYK":
        rgb = np.asarray(Image.fromarray(np.ascontiguousarray(frame), mode="CMYK").convert("RGB"))
        return _Plan(rgb, 0.0, 255.0, invert=False, color=True)
    if frame.shape[2] >= 3:
        return _Plan(frame, 0.0, 255.0, invert=False, color=True)
    return _stretch(frame[:, :, 0], invert=False)


def _dicom_plan(decoded: Decoded, ds: Dataset, frame: np.ndarray, index: int) -> _Plan:
    color = decoded.color.upper()
    full = float((1 << decoded.bits_stored) - 1)
    if color == "PALETTE COLOR":
        return _Plan(_palette_luma(ds, frame[:, :, 0], decoded.bits_stored), 0.0, 255.0, False)
    if color in ("YBR_FULL", "YBR_FULL_422"):
        return _Plan(frame[:, :, 0], 0.0, full, invert=False)
    if color.startswith("YBR_PARTIAL"):
        step = float(1 << max(decoded.bits_stored - 8, 0))
        return _Plan(frame[:, :, 0], 16.0 * step, 235.0 * step, invert=False)
    if frame.shape[2] >= 3:
        return _Plan(frame, 0.0, full, invert=False, color=True)
    return _greyscale_plan(decoded, ds, frame[:, :, 0], index, invert=color == "MONOCHROME1")


def _greyscale_plan(
    decoded: Decoded, ds: Dataset, values: np.ndarray, index: int, *, invert: bool
) -> _Plan:
    slope, intercept = _rescale(ds, index)
    window = _window(ds, index)
    has_voi_lut = _has_sequence(ds, "VOILUTSequence")
    nonlinear = (
        _has_sequence(ds, "ModalityLUTSequence")
        or has_voi_lut
        or (window is not None and window[2] == "SIGMOID")
    )
    if values.dtype.kind == "f" or not nonlinear:
        if window is not None and window[2] != "SIGMOID":
            lo, hi = _window_bounds(window)
            return _stored_window(
                values, (lo - intercept) / slope, (hi - intercept) / slope, invert=invert
            )
        if (
            decoded.bits_stored <= 8
            and not decoded.signed
            and (slope, intercept) == (1.0, 0.0)
            and values.dtype.kind == "u"
        ):
            return _Plan(values, 0.0, 255.0, invert=invert)
        return _stretch(values, invert=invert)
    return _lookup_plan(ds, values, window, invert=invert, voi_lut=has_voi_lut)


def _stored_window(values: np.ndarray, lo: float, hi: float, *, invert: bool) -> _Plan:
    if lo > hi:  # negative rescale slope flips the window
        lo, hi, invert = hi, lo, not invert
    return _Plan(values, lo, hi, invert=invert)


def _lookup_plan(
    ds: Dataset,
    values: np.ndarray,
    window: tuple[float, float, str] | None,
    *,
    invert: bool,
    voi_lut: bool,
) -> _Plan:
    """Modality LUT / VOI LUT / SIGMOID: map each distinct stored value through them."""
    low, high = int(values.min()), int(values.max())
    if high - low >= _LUT_MAX_RANGE:
        domain, lookup = values.astype(np.int64), False
    else:
        domain, lookup = np.arange(low, high + 1, dtype=np.int64), True
    x: np.ndarray = np.asarray(apply_modality_lut(domain, ds), dtype=np.float64)
    if voi_lut:
        item = ds.VOILUTSequence[0]
        bits = int(item.LUTDescriptor[2])
        y = np.asarray(apply_voi(np.rint(x).astype(np.int64), ds, index=0), dtype=np.float64)
        y = y * (255.0 / float((1 << bits) - 1))
    elif window is not None:
        center, width, _ = window
        y = 255.0 / (1.0 + np.exp(-4.0 * (x - center) / width))
    else:
        lo, hi = float(x.min()), float(x.max())
        y = (x - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(x)
    y32 = np.clip(y, 0.0, 255.0).astype(np.float32)
    mapped = np.take(y32, values.astype(np.int64) - low) if lookup else y32
    return _Plan(mapped, 0.0, 255.0, invert=invert)


def _window_bounds(window: tuple[float, float, str]) -> tuple[float, float]:
    center, width, function = window
    if function == "LINEAR_EXACT":
        return center - width / 2.0, center + width / 2.0
    return center - 0.5 - (width - 1.0) / 2.0, center - 0.5 + (width - 1.0) / 2.0


def _window(ds: Dataset, index: int) -> tuple[float, float, str] | None:
    item = _functional_item(ds, index, "FrameVOILUTSequence")
    for source in (item, ds):
        if source is None:
            continue
        center, width = (
            _first(texts(source, "WindowCenter")),
            _first(texts(source, "WindowWidth")),
        )
        function = (texts(source, "VOILUTFunction") or ["LINEAR"])[0].upper()
        if function not in ("LINEAR_EXACT", "SIGMOID"):
            function = "LINEAR"
        if center is None or width is None:
            continue
        if width > (1.0 if function == "LINEAR" else 0.0):  # PS3.3 C.11.2.1.2
            return center, width, function
    return None


def _rescale(ds: Dataset, index: int) -> tuple[float, float]:
    item = _functional_item(ds, index, "PixelValueTransformationSequence")
    for source in (item, ds):
        if source is None:
            continue
        slope = _first(texts(source, "RescaleSlope"))
        intercept = _first(texts(source, "RescaleIntercept"))
        if slope is not None and slope != 0.0:
            return slope, intercept or 0.0
    return 1.0, 0.0


def _functional_item(ds: Dataset, index: int, keyword: str) -> Dataset | None:
    """The first item of ``keyword`` for frame ``index`` (per-frame groups, then shared)."""
    return _group_item(ds, "PerFrameFunctionalGroupsSequence", index, keyword) or _group_item(
        ds, "SharedFunctionalGroupsSequence", 0, keyword
    )


def _group_item(ds: Dataset, groups: str, position: int, keyword: str) -> Dataset | None:
    items = _value(ds, groups)
    try:
        if not items or len(items) <= position:
            return None
        inner = _value(items[position], keyword)
        found: Dataset | None = inner[0] if inner else None
    except Exception:  # malformed functional groups: the caller falls back to the top level
        return None
    return found


def _palette_luma(ds: Dataset, indices: np.ndarray, bits_stored: int) -> np.ndarray:
    domain = np.arange(0, 1 << min(bits_stored, 16), dtype=np.uint16)
    rgb = np.asarray(apply_color_lut(domain, ds))
    # 16-bit palettes whose entries never exceed 255 are 8-bit palettes in 16-bit words
    # (common; and pydicom reads some big-endian palettes that way).
    full = 255.0 if rgb.dtype.itemsize == 1 or int(rgb.max(initial=0)) <= 255 else 65535.0
    luma = _luma(rgb.astype(np.float64)) * (255.0 / full)
    table = np.clip(luma, 0.0, 255.0).astype(np.float32)
    if indices.dtype.kind == "u" and (1 << (8 * indices.dtype.itemsize)) <= table.size:
        return np.asarray(table[indices], dtype=np.float32)  # every index is in the table
    return np.asarray(np.take(table, np.clip(indices, 0, table.size - 1).astype(np.intp)))


def _luma(samples: np.ndarray) -> np.ndarray:
    """0.299 R + 0.587 G + 0.114 B over the last axis (>= 3 samples); float32, or float64 in."""
    dtype = np.float64 if samples.dtype == np.float64 else np.float32
    rgb = np.asarray(samples[..., :3], dtype=dtype)
    luma = np.multiply(rgb[..., 0], _LUMA[0], dtype=dtype)
    luma += np.multiply(rgb[..., 1], _LUMA[1], dtype=dtype)
    luma += np.multiply(rgb[..., 2], _LUMA[2], dtype=dtype)
    return np.asarray(luma, dtype=dtype)


def _stretch(x: np.ndarray, *, invert: bool) -> _Plan:
    """Minimum to maximum (floats: of the finite values; NaN shows as the minimum)."""
    if x.dtype.kind != "f":
        return _Plan(x, float(x.min()), float(x.max()), invert=invert)
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return _Plan(np.zeros(x.shape, dtype=np.float32), 0.0, 0.0, invert=invert)
    lo, hi = float(finite.min()), float(finite.max())
    return _Plan(np.nan_to_num(x, nan=lo, posinf=hi, neginf=lo), lo, hi, invert=invert)


def _first(value: Any) -> float | None:
    try:
        if value is None or value == "":
            return None
        if not isinstance(value, str | bytes) and hasattr(value, "__len__"):
            value = value[0] if len(value) else None
        return None if value is None else float(value)
    except (TypeError, ValueError, IndexError):
        return None


def _has_sequence(ds: Dataset, keyword: str) -> bool:
    return bool(_value(ds, keyword))
