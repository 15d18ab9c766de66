"""Grey pixels to a small PNG ``data:`` URI that a self-contained report can inline.

The long side becomes ``size`` pixels and the aspect ratio is kept. Upscaling
uses nearest neighbour on purpose: a stored 32 x 32 near-duplicate grid then
shows as the coarse grid it is, not as a blurred picture that suggests detail
the ledger never kept. Downscaling averages boxes of pixels (area).
"""

from __future__ import annotations

import base64
import io

import numpy as np
import numpy.typing as npt
from PIL import Image

from ledger.errors import InputError

MAX_SIZE = 1024  # a report inlines every thumbnail; larger ones would bloat it

# Area-averaged float thumbnails may overshoot 0..255 by a rounding error;
# anything further out is a caller's mistake, not noise.
_SLACK = 0.5


def thumbnail_data_uri(pixels: npt.NDArray[np.generic], *, size: int = 128) -> str:
    """A ``data:image/png;base64,...`` URI of ``pixels`` with ``size`` pixels on its long side.

    ``pixels`` is a 2-D grey image, uint8 or numbers on 0..255 (floats are
    rounded). Anything else is an :class:`InputError`.
    """
    grey = _grey(pixels)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
        raise InputError(
            f"size must be an integer in 1..{MAX_SIZE}, got {size!r}", subject="thumbnail"
        )
    rows, columns = grey.shape
    scale = size / max(rows, columns)
    # The long side is set exactly; the short one rounds but never vanishes.
    width = size if columns >= rows else max(1, round(columns * scale))
    height = size if rows >= columns else max(1, round(rows * scale))
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX
    image = Image.fromarray(grey).resize((width, height), resample=resample)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # no timestamps: the same pixels give the same bytes
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _grey(pixels: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """Validate and round to a contiguous uint8 array."""
    array = np.asarray(pixels)
    if array.ndim != 2:
        raise InputError(
            f"a thumbnail needs a 2-D grey image, got shape {array.shape}", subject="thumbnail"
        )
    if array.size == 0:
        raise InputError(f"a thumbnail needs pixels, got shape {array.shape}", subject="thumbnail")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype.kind not in "iuf":
        raise InputError(
            f"pixels must be numbers on 0..255, got dtype {array.dtype}", subject="thumbnail"
        )
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise InputError("pixels must be finite", subject="thumbnail")
    low, high = float(values.min()), float(values.max())
    if low < -_SLACK or high > 255 + _SLACK:
        raise InputError(f"pixels must lie on 0..255, got {low:g}..{high:g}", subject="thumbnail")
    return np.ascontiguousarray(np.rint(np.clip(values, 0, 255)).astype(np.uint8))
