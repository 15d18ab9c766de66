"""Contrast enhancement (global or local "HDR", CLAHE): peaks and gaps in the grey histogram.

Source: M. C. Stamm and K. J. R. Liu, "Blind forensics of contrast enhancement in digital
images" (ICIP 2008) and "Forensic detection of image manipulation using statistical
intrinsic fingerprints" (IEEE TIFS 2010): a grey-level mapping applied to an 8-bit image
stretches some ranges (leaving empty bins) and compresses others (piling values into
peaks), which puts energy into the high frequencies of the histogram that a camera or a
scanner's histogram does not have. The statistic is the share of the histogram's DFT
magnitude above a quarter of its band, after the ends are pinched off (so that clipping
at black or white does not count), over the central crop rescaled to 8 bits.

A linear re-window (what every DICOM viewer's export does) of 8-bit stored values also
leaves gaps, but regular ones: the occupied levels are ``round(a * k + b)``, consecutive
gaps differ by at most one level and the levels lie on one straight line. When the occupied
levels fit that lattice, the statistic is read on the histogram with the stretch undone
(the empty bins between lattice levels removed): a linear mapping is not flagged, a
non-linear one (CLAHE, gamma, equalisation) does not fit a lattice and is read as it is.

Not found: enhancement of an image with more than 8 bits before it is reduced to 8 (the
gaps fill in), enhancement followed by resizing, blurring or strong JPEG compression, and
a linear stretch of any kind (deliberately: it is what a re-windowed export is).
Re-windowing a 12-16 bit DICOM to 8 bits is not a stretch of an 8-bit histogram and leaves
no gaps.
"""

from __future__ import annotations

import numpy as np

from ledger.forensics.pixelview import Calibration, format_class, view
from ledger.forensics.signal import Sample, Signal

NAME = "contrast.histogram_gaps"
SIDE = 256

# Calibrated on the clean controls of bench/forensics.py, per format class (docs/forensics.md).
CALIBRATION = {
    "lossless": Calibration(low=0.76, medium=0.785, high=0.85),
    "dicom": Calibration(low=0.76, medium=0.785, high=0.85),
    "jpeg": Calibration(low=0.74, medium=0.76, high=0.85),
}
_PINCH = 8
_CUT = 32  # of 256 frequencies: the top three quarters of the band count as high
_MIN_LEVELS = 32  # fewer distinct grey levels: a drawing or a mask, not judged


def _window() -> np.ndarray:
    w = np.ones(256)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(_PINCH) / _PINCH)
    w[:_PINCH], w[-_PINCH:] = ramp, ramp[::-1]
    return w


_PINCHED = _window()
_HIGH = np.minimum(np.arange(256), 256 - np.arange(256)) >= _CUT


def linear_slope(histogram: np.ndarray) -> float:
    """The slope ``a`` of a linear stretch whose lattice the occupied levels fit, else 0.

    The end bins are left out (clipping piles values there). A stretch by ``a`` > 1 leaves
    gaps of ``floor(a)`` or ``ceil(a)`` levels between occupied ones, and every occupied
    level within one level of the straight line through the first and the last.
    """
    levels = np.flatnonzero(histogram[1:-1]) + 1
    if levels.size < _MIN_LEVELS:
        return 0.0
    gaps = np.diff(levels)
    slope = float(levels[-1] - levels[0]) / (levels.size - 1)
    if gaps.max() <= 1 or gaps.max() - gaps.min() > 1:
        return 0.0
    line = levels[0] + slope * np.arange(levels.size)
    return slope if float(np.abs(levels - line).max()) <= 1.0 else 0.0


def unstretched(histogram: np.ndarray) -> np.ndarray:
    """The histogram with a linear stretch's empty bins removed (as before the stretch)."""
    occupied = np.flatnonzero(histogram[1:-1]) + 1
    out = np.zeros_like(histogram)
    start = int(occupied[0])
    out[start : start + occupied.size] = histogram[occupied]
    out[0], out[-1] = histogram[0], histogram[-1]
    return out


def statistic(grey: np.ndarray) -> float:
    value, _ = statistic_and_slope(grey)
    return value


def statistic_and_slope(grey: np.ndarray) -> tuple[float, float]:
    """(the high-frequency share, the slope of a linear stretch undone first, or 0)."""
    levels = np.clip(np.rint(grey), 0, 255).astype(np.int64).ravel()
    histogram = np.bincount(levels, minlength=256).astype(np.float64)
    if np.count_nonzero(histogram) < _MIN_LEVELS:
        return float("nan"), 0.0
    slope = linear_slope(histogram)
    if slope > 0:
        histogram = unstretched(histogram)
    magnitude = np.abs(np.fft.fft(histogram * _PINCHED))
    return float(magnitude[_HIGH].sum() / magnitude.sum()), slope


def detect(sample: Sample) -> list[Signal]:
    window = view(sample, SIDE)
    if window is None:
        return []
    value, slope = statistic_and_slope(window.grey)
    if not np.isfinite(value):
        return []
    calibration = CALIBRATION[format_class(sample)]
    evidence = (
        f"histogram high-frequency share {value:.2f} (medium at {calibration.medium:g})"
    )
    if slope > 0:
        evidence += f", after undoing a linear stretch by {slope:.2f} that explains its gaps"
    return [Signal(NAME, calibration.score(value), calibration.level(value), evidence)]
