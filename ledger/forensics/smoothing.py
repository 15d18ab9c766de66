"""Over-smoothing (median and bilateral "beauty" filters): pixels a median filter leaves alone.

Sources: M. Kirchner and J. Fridrich, "On detection of median filtering in digital images"
(SPIE Media Forensics and Security 2010): a median-filtered image is close to a root of the
filter (filtering it again changes few pixels) and shows streaks of equal neighbours in
textured regions; C. Chen, J. Ni and J. Huang, "Blind detection of median filtering in
digital images: a difference domain based approach" (IEEE TIP 2013) read the same trace
from the median filter residual. Here: the share of textured pixels (their 3 x 3 cross spans
at least 6 grey levels) that a separable 3 x 3 median (median of 3 across, then down) leaves
unchanged, in the central crop rescaled to 8 bits. An edge-preserving smoother (bilateral,
"beauty" filters) flattens texture between edges in the same way, less strongly.

Not found: light smoothing of a noisy image, smoothing followed by JPEG compression or added
grain (some phone pipelines add grain back). Noise-free images (drawings, synthetic
phantoms, heavily denoised reconstructions) look smoothed: they are what the calibration's
clean controls are for.
"""

from __future__ import annotations

import numpy as np

from ledger.forensics.pixelview import Calibration, format_class, view
from ledger.forensics.signal import Sample, Signal

NAME = "smoothing.median_roots"
SIDE = 256  # the analysis crop

# Calibrated on the clean controls of bench/forensics.py, per format class (docs/forensics.md).
# Noise-free clean images (drawings, phantoms) are all median roots (1.0), as a smoothed
# image is: for lossless files and DICOM the signal never goes beyond "low".
CALIBRATION = {
    "lossless": Calibration(low=0.97, medium=1.01, high=1.02),
    "dicom": Calibration(low=0.97, medium=1.01, high=1.02),
    "jpeg": Calibration(low=0.90, medium=0.995, high=1.0),
}
_TEXTURE = 6.0  # 8-bit grey levels a 3 x 3 cross must span to count as textured
_MIN_PIXELS = 500


def _median3(a: np.ndarray, axis: int) -> np.ndarray:
    if axis == 1:
        left, centre, right = a[:, :-2], a[:, 1:-1], a[:, 2:]
    else:
        left, centre, right = a[:-2], a[1:-1], a[2:]
    middle: np.ndarray = np.maximum(
        np.minimum(left, centre), np.minimum(np.maximum(left, centre), right)
    )
    return middle


def statistic(grey: np.ndarray) -> tuple[float, float]:
    """(share of textured pixels the median leaves unchanged, textured share of the crop)."""
    v = np.rint(grey)
    filtered = _median3(_median3(v, 1), 0)
    centre = v[1:-1, 1:-1]
    cross = (v[:-2, 1:-1], v[2:, 1:-1], v[1:-1, :-2], v[1:-1, 2:], centre)
    textured = (np.maximum.reduce(cross) - np.minimum.reduce(cross)) >= _TEXTURE
    count = int(textured.sum())
    if count < _MIN_PIXELS:
        return float("nan"), count / max(textured.size, 1)
    return float(np.mean(filtered[textured] == centre[textured])), count / textured.size


def detect(sample: Sample) -> list[Signal]:
    window = view(sample, SIDE)
    if window is None:
        return []
    value, textured = statistic(window.grey)
    if not np.isfinite(value):
        return []
    calibration = CALIBRATION[format_class(sample)]
    evidence = (
        f"{value:.1%} of textured pixels are median roots ({textured:.0%} of the crop "
        f"textured; medium at {calibration.medium:.1%})"
    )
    return [Signal(NAME, calibration.score(value), calibration.level(value), evidence)]
