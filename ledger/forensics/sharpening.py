"""Over-sharpening (unsharp masking) read from edge overshoot in the noise residual.

Sources: G. Cao, Y. Zhao, R. Ni and A. C. Kot, "Unsharp masking sharpening detection via
overshoot artifacts analysis" (IEEE Signal Processing Letters 2011): unsharp masking adds
a scaled high-pass copy of the image to itself, so on both sides of a strong edge the
profile overshoots the plateaus it joins (a halo: brighter than the bright side just past
the edge, darker than the dark side), which an optical blur never does. For every strong
step between horizontal (and vertical) neighbours in the central crop, the profile four
pixels either side is read; the statistic is the median overshoot, as a share of the step.

Not found: mild sharpening (the halo stays within the noise), sharpening of an image
without strong edges, and sharpening followed by downscaling or strong JPEG compression.
"""

from __future__ import annotations

import numpy as np

from ledger.forensics.pixelview import Calibration, format_class, spread, view
from ledger.forensics.signal import Sample, Signal

NAME = "sharpening.overshoot"
SIDE = 128  # the analysis crop: enough strong edges, a quarter of the cost

# Calibrated on the clean controls of bench/forensics.py, per format class (docs/forensics.md).
# Clean controls reach the cap (2.0: drawings, text, in-camera sharpening), so the signal
# never goes beyond "low" (docs/forensics.md).
CALIBRATION = {
    "lossless": Calibration(low=1.5, medium=2.01, high=2.02),
    "dicom": Calibration(low=1.5, medium=2.01, high=2.02),
    "jpeg": Calibration(low=1.5, medium=2.01, high=2.02),
}
_REACH = 4  # pixels read either side of an edge
_MIN_EDGES = 40
_STRONG = 0.98  # steps above this quantile of all steps (and above a floor) are edges


def overshoot(grey: np.ndarray, grey_spread: float | None = None) -> tuple[float, int]:
    """(median overshoot as a share of the step, number of edges read)."""
    shares: list[np.ndarray] = []
    floor = max(0.15 * (spread(grey) if grey_spread is None else grey_spread), 8.0)
    for a in (grey, grey.T):
        step = a[:, 1:] - a[:, :-1]
        magnitude = np.abs(step).ravel()
        k = int(_STRONG * (magnitude.size - 1))
        cut = max(float(np.partition(magnitude, k)[k]), floor)
        rows, cols = np.nonzero(np.abs(step) >= cut)
        keep = (cols >= _REACH) & (cols + 1 + _REACH < a.shape[1])
        rows, cols = rows[keep], cols[keep]
        if rows.size == 0:
            continue
        offsets = np.arange(-_REACH + 1, _REACH + 1)  # positions cols-3 .. cols+4
        profile = a[rows[:, None], cols[:, None] + offsets[None, :]]
        sign = np.sign(step[rows, cols])[:, None]
        profile = profile * sign  # every edge rising
        low_side, high_side = profile[:, :_REACH], profile[:, _REACH:]
        height = high_side[:, -1] - low_side[:, 0]
        ok = height > 0
        dip = np.maximum(low_side[:, 0] - low_side.min(axis=1), 0)
        peak = np.maximum(high_side.max(axis=1) - high_side[:, -1], 0)
        shares.append(((dip + peak) / np.maximum(height, 1e-9))[ok])
    if not shares:
        return float("nan"), 0
    every = np.concatenate(shares)
    if every.size < _MIN_EDGES:
        return float("nan"), int(every.size)
    return float(np.median(np.minimum(every, 2.0))), int(every.size)


def detect(sample: Sample) -> list[Signal]:
    window = view(sample, SIDE)
    if window is None or window.spread == 0:
        return []
    value, edges = overshoot(window.grey, window.spread)
    if not np.isfinite(value):
        return []
    calibration = CALIBRATION[format_class(sample)]
    evidence = (
        f"median edge overshoot {value:.0%} of the step over {edges} edges "
        f"(medium at {calibration.medium:.0%})"
    )
    return [Signal(NAME, calibration.score(value), calibration.level(value), evidence)]
