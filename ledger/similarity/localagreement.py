"""Local agreement of two aligned grids: a score no locally monotone grey-level map changes.

The verification's residual (``worst_block``) is measured after one *global* monotone map.
Histogram equalisation applied at full resolution, and CLAHE (a different map per tile), are
not one global map of the 32 x 32 grid: the averaging of a textured cell does not commute
with a non-linear map, and CLAHE's maps vary across the image. Both leave a residual the
global fit cannot remove, while the picture is the same everywhere.

Here each block of ``LOCAL_BLOCK`` x ``LOCAL_BLOCK`` grid pixels is compared on its own: the
Pearson correlation of the two grids' pixels in the block. A correlation is unchanged by any
increasing affine map, so a grey-level map that is smooth across a block (gamma, a window,
equalisation, CLAHE's interpolated tile maps) keeps it near 1 wherever the block holds
structure in both grids. A structure that moved (the next slice, another frame), or two
different textures on one layout, lowers it in the block where they differ, whatever the
grey levels. Only blocks where *both* grids vary (``LOCAL_SPREAD`` of the grid's own
standard deviation and ``LOCAL_MIN_STD`` grey levels) are scored: a flat block holds only
resampling and compression noise, which correlates with nothing.

The score is the lowest such block correlation (1.0 when no block qualifies).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

LOCAL_BLOCK = 8  # grid pixels per side of a block (16 blocks on the 32 x 32 grid)
LOCAL_SPREAD = 0.10  # a block is scored when both grids' std there is this much of their own
LOCAL_MIN_STD = 1.0  # ... and at least this many grey levels (JPEG noise in a flat area)


def worst_local_correlation(a: Floats, s: Floats, usable: npt.NDArray[np.bool_]) -> float:
    """The lowest Pearson correlation of ``a`` and ``s`` over the blocks where both vary.

    ``a`` and ``s`` are the two grids at the alignment (same shape), ``usable`` the pixels
    the verification scores; a block needs half of its pixels usable."""
    global_a, global_s = float(a[usable].std()), float(s[usable].std())
    if global_a <= 1e-9 or global_s <= 1e-9:
        return 1.0
    n = a.shape[0] // LOCAL_BLOCK
    worst = 1.0
    for by in range(n):
        for bx in range(n):
            rows = slice(by * LOCAL_BLOCK, (by + 1) * LOCAL_BLOCK)
            cols = slice(bx * LOCAL_BLOCK, (bx + 1) * LOCAL_BLOCK)
            m = usable[rows, cols]
            if int(m.sum()) < LOCAL_BLOCK * LOCAL_BLOCK // 2:
                continue
            x, y = a[rows, cols][m], s[rows, cols][m]
            sx, sy = float(x.std()), float(y.std())
            if min(sx / global_a, sy / global_s) < LOCAL_SPREAD or min(sx, sy) < LOCAL_MIN_STD:
                continue
            r = float(((x - x.mean()) * (y - y.mean())).mean()) / (sx * sy)
            worst = min(worst, r)
    return worst
