"""Resampling and upsampling: periodic traces of interpolation in a linear-predictor residue.

Sources: A. C. Popescu and H. Farid, "Exposing digital forgeries by detecting traces of
resampling" (IEEE TSP 2005), in the fast form of M. Kirchner, "Fast and reliable resampling
detection by spectral analysis of fixed linear predictor residue" (ACM MM&Sec 2008): the
residue of a fixed 3 x 3 predictor becomes a p-map ``exp(-e^2)``, whose rows (and columns)
are averaged as A. C. Gallagher does ("Detection of linear and cubic interpolation in JPEG
compressed images", CRV 2005); an upsampled image, interpolated by any linear kernel, by
zero insertion and a low-pass filter or by pixel repetition (nearest neighbour), gives the
averaged profile a periodic component, seen as a peak in its spectrum above the median.
The spectrum is read from period 2 to period 10 (a factor up to 10); frequencies of the
8 x 8 block grid are left out, because a JPEG compression anywhere in the image's history
puts peaks there. Pixel repetition (nearest neighbour) keeps the symmetric predictor's
residue symmetric, so the first differences' p-map (every other one zero after a 2x
repetition) is read the same way.

Nearest-neighbour repetition in a lossless file is also shown directly: adjacent non-flat
rows or columns that repeat exactly, periodically (``repetition``).

An enlargement by zero insertion and a long low-pass filter (a near-ideal interpolator)
leaves almost no periodic residue but an empty top band: the third statistic is the log
ratio of the mid band's power (0.15-0.22 cycles per pixel) to the top band's (above 0.3)
in the central 128 x 128 pixels,
which a sharp image fills with detail and noise (sampling theory: an image interpolated by
a factor k has no content above 1/(2k) cycles per pixel of its new grid). The fourth reads
that edge itself for k = 2, from the same spectrum: log10 of the power just below a quarter
cycle per pixel (0.19-0.235) over the power just above it (0.265-0.31). A camera's or a
scanner's spectrum falls smoothly there; an image enlarged by 2 through any low-pass filter
falls off a cliff to its rounding noise, even where its content was smooth to begin with
(which the band limit alone misses). This is the resampling spectrum of Popescu and Farid
read directly on the image's own spectrum, as in B. Mahdian and S. Saic, "Blind
authentication using periodic properties of interpolation" (IEEE TIFS 2008).

Not found: downsampling by large factors, resampling followed by strong JPEG compression, and
upsampling by exactly 2 in a JPEG file (its peak falls on the block grid's).
"""

from __future__ import annotations

import functools

import numpy as np

from ledger.forensics.pixelview import Calibration, crop, format_class, view
from ledger.forensics.signal import Sample, Signal

NAME = "resampling.periodicity"
SIDE = 256  # the analysis crop

# Calibrated on the clean controls of bench/forensics.py, per format class (docs/forensics.md).
CALIBRATION = {
    "lossless": Calibration(low=12.0, medium=24.0, high=40.0),
    "dicom": Calibration(low=12.0, medium=24.0, high=40.0),
    "jpeg": Calibration(low=10.0, medium=16.0, high=30.0),
}
# The log10 ratio of mid-band to top-band power: an image enlarged by zero insertion and a
# low-pass filter has nothing above the old Nyquist frequency but rounding noise.
BAND_LIMIT = {
    "lossless": Calibration(low=1.7, medium=1.95, high=2.5),
    "dicom": Calibration(low=2.5, medium=3.2, high=3.8),
    "jpeg": Calibration(low=1.7, medium=1.95, high=2.5),
}
_MID_BAND, _TOP_BAND = (0.15, 0.22), 0.3  # cycles per pixel, the larger of the two axes
# Either side of the old Nyquist frequency of an enlargement by 2 (a quarter cycle per pixel).
_BELOW_HALF, _ABOVE_HALF = (0.19, 0.235), (0.265, 0.31)
# The log10 power ratio across that edge. Clean controls: lossless max 1.03, JPEG 0.98,
# DICOM 1.6 (bench/forensics.py); zero insertion by 2 as PNG: median 1.84.
CLIFF = {
    "lossless": Calibration(low=0.9, medium=1.1, high=1.8),
    "dicom": Calibration(low=1.4, medium=2.0, high=2.6),
    "jpeg": Calibration(low=0.9, medium=1.2, high=1.8),
}
_MIN_BAND_SIDE = 64
BAND_SIDE = 128  # the band limit's crop: its 2-D FFT is the signal's largest cost
# Exact periodic repetition of lines: nothing but pixel repetition produces it.
REPETITION = Calibration(low=0.3, medium=0.4, high=0.6)
_MIN_PERIOD, _MAX_PERIOD = 2.0, 10.0


def residue(grey: np.ndarray) -> np.ndarray:
    """Kirchner's fixed-predictor residue over the interior pixels.

    The pixel minus the predictor is the outer product of (-1/2, 1, -1/2) with itself, so
    the residue is that second difference taken across, then down.
    """
    across = grey[:, 1:-1] - 0.5 * (grey[:, :-2] + grey[:, 2:])
    e: np.ndarray = across[1:-1] - 0.5 * (across[:-2] + across[2:])
    return e


@functools.lru_cache(maxsize=16)
def _readable(n: int) -> np.ndarray:
    """Indices of an n-point rfft read for peaks: periods 2-10, off the JPEG grid."""
    freqs = np.arange(n // 2 + 1) / n
    band = (freqs >= 1 / _MAX_PERIOD) & (freqs <= 1 / _MIN_PERIOD)
    grid = np.abs(freqs - np.rint(freqs * 8) / 8) * n <= 1.5
    return np.flatnonzero(band & ~grid)


def peak_ratio(profile: np.ndarray) -> tuple[float, float]:
    """(highest spectral peak / median magnitude, its period) of a profile.

    The 8-pixel block grid of a JPEG in the image's history puts peaks at 1/8, 2/8 and 3/8
    (and 4/8) cycles per pixel; those are never read, and 1/2 (upsampling by 2) only by
    how far it stands above the grid's other harmonics.
    """
    n = profile.size
    spectrum = np.abs(np.fft.rfft(profile - profile.mean()))
    reference = float(np.median(spectrum[1:])) if spectrum.size > 2 else 0.0
    if reference <= 0:
        return 0.0, 0.0
    readable = _readable(n)
    best, period = 0.0, 0.0
    if readable.size:
        index = int(readable[np.argmax(spectrum[readable])])
        best, period = float(spectrum[index] / reference), n / index
    if n % 2 == 0 and n >= 16:
        harmonics = [spectrum[round(n * k / 8)] for k in (1, 2, 3)]
        half = float((spectrum[n // 2] - max(harmonics)) / reference)
        if half > best:
            best, period = half, 2.0
    return best, period


def repetition(grey: np.ndarray) -> float:
    """How periodically adjacent non-flat lines repeat exactly (0 none, 1 every period).

    For each axis and each period 2..5, the share of repeated lines is taken at each phase;
    the statistic is the largest spread between phases. Nearest-neighbour upsampling by 2
    repeats every other line (1.0); a flat-shaded drawing repeats lines at every phase (0).
    """
    best = 0.0
    for a in (grey, grey.T):
        repeated = np.all(a[1:] == a[:-1], axis=1) & (np.ptp(a[1:], axis=1) > 0)
        for period in range(2, 6):
            usable = repeated.size // period * period
            if usable < 4 * period:
                continue
            rates = repeated[:usable].reshape(-1, period).mean(axis=0)
            best = max(best, float(rates.max() - rates.min()))
    return best


def statistic(grey: np.ndarray) -> tuple[float, float]:
    """The highest peak over both axes of two p-maps: the predictor's and the first difference's.

    The symmetric predictor sees interpolation; pixel repetition (nearest neighbour) leaves
    its residue symmetric too, but makes every other first difference zero.
    """
    p = np.exp(-np.square(residue(grey)))
    across = np.exp(-np.square(grey[:, 1:] - grey[:, :-1]))
    down = np.exp(-np.square(grey[1:] - grey[:-1]))
    profiles = (p.mean(axis=0), p.mean(axis=1), across.mean(axis=0), down.mean(axis=1))
    return max(peak_ratio(profile) for profile in profiles)


@functools.lru_cache(maxsize=8)
def _bands(rows: int, cols: int) -> tuple[np.ndarray, ...]:
    """(Hann window, top, mid, below-half, above-half band masks) for one crop shape."""
    window = np.outer(np.hanning(rows), np.hanning(cols))
    f = np.maximum(np.abs(np.fft.fftfreq(rows))[:, None], np.fft.rfftfreq(cols)[None, :])
    return (window, f > _TOP_BAND, (f > _MID_BAND[0]) & (f < _MID_BAND[1]),
            (f > _BELOW_HALF[0]) & (f < _BELOW_HALF[1]),
            (f > _ABOVE_HALF[0]) & (f < _ABOVE_HALF[1]))


def _log_ratio(power: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> float:
    numerator = float(power[upper].mean())
    if numerator <= 0:
        return float("nan")
    return float(np.log10(numerator / max(float(power[lower].mean()), 1e-12)))


def band_statistics(grey: np.ndarray) -> tuple[float, float]:
    """(band limit, half-band cliff) from one Hann-windowed spectrum of ``grey``.

    The band limit is log10(mid band / top band power); the cliff log10(power just below
    a quarter cycle per pixel / power just above it).
    """
    rows, cols = grey.shape
    if min(rows, cols) < _MIN_BAND_SIDE:
        return float("nan"), float("nan")
    window, top_band, mid_band, below, above = _bands(rows, cols)
    spectrum = np.fft.rfft2((grey - grey.mean()) * window)
    power = spectrum.real**2 + spectrum.imag**2
    return _log_ratio(power, mid_band, top_band), _log_ratio(power, below, above)


def band_limit(grey: np.ndarray) -> float:
    """log10(mean power in the mid band / mean power in the top band), Hann-windowed."""
    return band_statistics(grey)[0]


def detect(sample: Sample) -> list[Signal]:
    window = view(sample, SIDE)
    if window is None or window.spread == 0:
        return []
    ratio, period = statistic(window.grey)
    repeated = repetition(window.grey)
    limited, edge = band_statistics(crop(window.grey, BAND_SIDE))
    fmt = format_class(sample)
    calibration, band, cliff = CALIBRATION[fmt], BAND_LIMIT[fmt], CLIFF[fmt]
    level = max(calibration.level(ratio), REPETITION.level(repeated), band.level(limited),
                cliff.level(edge))
    score = max(calibration.score(ratio), REPETITION.score(repeated), band.score(limited),
                cliff.score(edge))
    evidence = (
        f"p-map spectrum peak {ratio:.1f}x the median at period {period:.2f} px "
        f"(medium at {calibration.medium:g}); periodic exact line repetition {repeated:.2f} "
        f"(medium at {REPETITION.medium:g}); band limit {limited:.2f} "
        f"(medium at {band.medium:g}); half-band cliff {edge:.2f} (medium at {cliff.medium:g})"
    )
    return [Signal(NAME, score, level, evidence)]
