"""Copies of DICOM images made the way people re-host them, shared by tests and bench.

``bench/composition.py`` imports this module with ``tests/`` on ``sys.path``, as pytest
does (``integration.duplicates.exports``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom


def eight_bit(path: Path) -> np.ndarray:
    """A DICOM file's first frame as 8-bit grey, min-max scaled: a careless PNG export."""
    pixels = pydicom.dcmread(path).pixel_array.astype(np.float64)
    if pixels.ndim == 4 or (pixels.ndim == 3 and pixels.shape[-1] != 3):
        pixels = pixels[0]
    if pixels.ndim == 3:
        pixels = pixels.mean(axis=-1)
    span = float(pixels.max() - pixels.min()) or 1.0
    return np.asarray((pixels - pixels.min()) / span * 255, dtype=np.uint8)


def full_range(values: np.ndarray, bits_stored: int, *, signed: bool) -> np.ndarray:
    """Stored values with their whole range (``bits_stored``) mapped to 0..255 as 8-bit grey:
    the careless export of a 12-bit MR or CT slice, whose anatomy then spans a few grey levels."""
    low = -(2 ** (bits_stored - 1)) if signed else 0
    scaled = (values.astype(np.float64) - low) * 255.0 / (2**bits_stored - 1)
    return np.asarray(np.clip(np.rint(scaled), 0, 255), dtype=np.uint8)
