"""Contrast enhancement (global or local "HDR", CLAHE): peaks and gaps in the grey histogram.

Source: M. C. Stamm and K. J. R. Liu, "Blind forensics of contrast enhancement in digital
images" (ICIP 2008) and "Forensic detection of image manipulation using statistical
intrinsic fingerprints" (IEEE TIFS 2010): a grey-level mapping applied to an 8-bit image
stretches some ranges (leaving empty bins) and compresses others (piling values into
peaks), which puts energy into the high frequencies of the histogram that a camera or a
scanner's histogram does not have. The statistic is the share of the histogram's DFT
magnitude above a quarter of its band, after the ends are pinched off (so that clipping
at black or white does not count), over the central crop rescaled to 8 bits.

Not found: enhancement of an image with more than 8 bits before it is reduced to 8 (the
gaps fill in), enhancement followed by resizing, blurring or strong JPEG compression.
Re-windowing a 12-16 bit DICOM to 8 bits is not a stretch of an 8-bit histogram and leaves
no gaps; a stretch of an 8-bit stored image does, like any contrast enhancement.
"""

from __future__ import annotations

import numpy as np

from ledger.forensics.pixelview import Calibration, format_class, plane, to_8bit_scale
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


def statistic(grey: np.ndarray) -> float:
    levels = np.clip(np.rint(grey), 0, 255).astype(np.int64).ravel()
    histogram = np.bincount(levels, minlength=256).astype(np.float64)
    if np.count_nonzero(histogram) < _MIN_LEVELS:
        return float("nan")
    magnitude = np.abs(np.fft.fft(histogram * _PINCHED))
    return float(magnitude[_HIGH].sum() / magnitude.sum())


def detect(sample: Sample) -> list[Signal]:
    grey = plane(sample, SIDE)
    if grey is None:
        return []
    value = statistic(to_8bit_scale(grey, sample.bits_stored))
    if not np.isfinite(value):
        return []
    calibration = CALIBRATION[format_class(sample)]
    evidence = (
        f"histogram high-frequency share {value:.2f} (medium at {calibration.medium:g})"
    )
    return [Signal(NAME, calibration.score(value), calibration.level(value), evidence)]
