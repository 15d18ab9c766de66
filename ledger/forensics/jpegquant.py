"""JPEG quantisation tables: their signature, the estimated quality, aligned double compression.

Sources:

* Quality: the tables of ITU-T T.81 Annex K scaled as the Independent JPEG Group's
  libjpeg scales them (``jpeg_quality_scaling``: 5000/q below 50, 200 - 2q above); the
  quality is the one whose scaled table is closest to the file's luminance table, and the
  signature says whether the file's tables are exactly IJG-scaled (most software) or not
  (cameras and some editors write their own).
* Double compression: H. Farid and A. C. Popescu, "Statistical tools for digital
  forensics" (IH 2004) and J. Lukas and J. Fridrich, "Estimation of primary quantization
  matrix in double compressed JPEG images" (DFRWS 2003). An image quantised with one table
  and then re-quantised on the same 8 x 8 grid with another leaves periodic peaks and
  empty bins in the histograms of its quantised DCT coefficients. The coefficients are
  recomputed from the decoded luminance (8 x 8 DCT, divided by the file's own table), and
  each histogram bin is compared with the geometric mean of its neighbours, which predicts
  a singly-quantised (Laplacian) histogram exactly; the statistic is the mean chi-square of
  that prediction over the low-frequency AC coefficients.

Not found: re-saves whose second table is an integer multiple of the first (the
histogram stays regular), re-saves on a shifted grid (a crop between the two saves), and
re-saves at quality 100 (nothing left to see). Re-saves at a lower quality leave weak
periodicity (the finer first step is averaged over each coarser bin): ranked well, rarely
above the threshold (docs/forensics.md). Known false positive: flat synthetic drawings (a
chessboard) whose DCT coefficients sit on a lattice on any grid, so their histograms are
combs whatever the compression.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

from ledger.forensics.pixelview import Calibration, view
from ledger.forensics.signal import Level, Sample, Signal

QUANT_NAME = "jpeg.quantisation"
DOUBLE_NAME = "jpeg.double_compression"
SIDE = 256  # the analysis crop: 1,024 blocks

# Calibrated on the clean JPEG controls of bench/forensics.py (docs/forensics.md).
DOUBLE = Calibration(low=5.0, medium=16.0, high=40.0)

_LUMA_K1 = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float64,
)
# The low-frequency AC coefficients (zig-zag positions 1..14) whose histograms are examined.
_MODES = (
    (0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2),
    (2, 1), (3, 0), (4, 0), (3, 1), (2, 2), (1, 3), (0, 4),
)  # fmt: skip
_BINS = 24  # |quantised value| examined: 2..24
_MIN_BLOCKS = 64


def _dct_matrix() -> np.ndarray:
    k = np.arange(8)
    m: np.ndarray = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 16) * np.sqrt(2 / 8)
    m[0] /= np.sqrt(2)
    return m


_DCT = _dct_matrix()
# Column k: the 8 x 8 basis image of mode _MODES[k], flattened, so blocks @ _BASIS = DCT.
_BASIS = np.stack([np.outer(_DCT[u], _DCT[v]).ravel() for u, v in _MODES], axis=1).astype(
    np.float32
)


def ijg_table(quality: int) -> np.ndarray:
    """The luminance table libjpeg writes for ``quality`` (1..100), baseline-clamped."""
    q = min(max(int(quality), 1), 100)
    scale = 5000 // q if q < 50 else 200 - 2 * q  # integer arithmetic, as libjpeg's
    table: np.ndarray = np.clip(np.floor((_LUMA_K1 * scale + 50) / 100), 1, 255)
    return table


_IJG = np.stack([ijg_table(q) for q in range(1, 101)])


def luma_table(data: bytes) -> np.ndarray | None:
    """The file's first quantisation table (luminance) as 8 x 8, or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
                tables = getattr(image, "quantization", None) or {}
        except Exception:  # a file the decoder accepted but Pillow's header reader did not
            return None
    first = tables.get(0) if isinstance(tables, dict) else None
    if first is None or len(first) != 64:
        return None
    return np.asarray(list(first), dtype=np.float64).reshape(8, 8)


def estimate_quality(table: np.ndarray) -> tuple[int, bool]:
    """(closest IJG quality, whether the table is exactly IJG-scaled)."""
    errors = np.abs(_IJG - table[None]).sum(axis=(1, 2))
    best = int(np.argmin(errors))
    return best + 1, bool(errors[best] == 0)


def double_statistic(luma: np.ndarray, table: np.ndarray) -> float:
    """Mean chi-square of the DCT histograms against their smooth prediction (0 = regular)."""
    h, w = (luma.shape[0] // 8) * 8, (luma.shape[1] // 8) * 8
    if h * w // 64 < _MIN_BLOCKS:
        return float("nan")
    blocks = (luma[:h, :w] - 128.0).reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)
    coefficients = blocks.reshape(-1, 64) @ _BASIS  # only the modes read, one product
    chi = []
    for column, (u, v) in enumerate(_MODES):
        step = table[u, v]
        if step >= 32:  # too coarse to leave a histogram worth reading
            continue
        values = np.abs(np.rint(coefficients[:, column] / step)).astype(np.int64)
        counts = np.bincount(np.minimum(values, _BINS + 2), minlength=_BINS + 3)[: _BINS + 2]
        observed = counts[2 : _BINS + 1].astype(np.float64)
        predicted = np.sqrt(counts[1:_BINS].astype(np.float64) * counts[3 : _BINS + 2])
        used = (observed + predicted) >= 10
        if used.sum() >= 3:
            d = observed[used] - predicted[used]
            chi.append(float(np.mean(d * d / (observed[used] + predicted[used]))))
    return float(np.mean(chi)) if chi else float("nan")


def detect(sample: Sample) -> list[Signal]:
    if sample.format != "jpeg":
        return []
    table = luma_table(sample.data)
    if table is None:
        return []
    quality, standard = estimate_quality(table)
    kind = "IJG-scaled" if standard else "non-standard"
    found = [
        Signal(
            QUANT_NAME,
            0.0,
            Level.NONE,
            f"luminance quantisation table {kind}, estimated quality {quality}",
        )
    ]
    crop = view(sample, SIDE)
    if crop is None or crop.spread == 0:
        return found
    value = double_statistic(crop.grey, table)
    if not np.isfinite(value):
        return found
    level = DOUBLE.level(value)
    found.append(
        Signal(
            DOUBLE_NAME,
            DOUBLE.score(value),
            level,
            f"DCT histogram periodicity {value:.1f} (medium at {DOUBLE.medium:g}) at "
            f"estimated quality {quality}",
        )
    )
    return found
