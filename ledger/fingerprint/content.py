"""How much structure a descriptor grid holds: its content score (as PDQ's quality).

A near match of two 32 x 32 grids is only evidence when the grids have structure in many
places: a single edge across the frame, two smooth regions, a textured region against a dark
one, or a nearly flat frame can be made to look like many unrelated images by the
verification's alignment search (dihedral x turn x anisotropic scale x grey-level map). Such a
grid is matched only exactly (:func:`ledger.similarity.verification.verify`), never near.

The score is the fraction of the grid's 4 x 4-pixel cells (64 of them) that hold structure:
the standard deviation of the grid's *ranks* (blurred by one pixel) in the cell is at least
``CELL_SPREAD``, and that of its grey levels at least ``MIN_CELL_STD`` (so JPEG noise in a
flat area is not structure). Ranks make the score the same for any monotone grey-level map
(gamma, a window, equalisation, CLAHE's global part), so a low-contrast slice scores as its
full-contrast rendering does, while an image whose variation is one step between two
regions scores only the cells along the step. A grid whose robust spread (1st to 99th
percentile) is under ``MIN_SPREAD`` grey levels scores 0.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ledger.fingerprint.descriptor import blur

CELL = 4  # pixels per side of a cell
CELL_SPREAD = 0.05  # a cell is structured when its rank spread (std) is at least this
MIN_CELL_STD = 0.4  # ... and its grey levels' std at least this (quantisation and JPEG noise)
MIN_SPREAD = 2.0  # grey levels (1st..99th percentile) below which nothing is structure
MIN_CONTENT = 0.26  # under it (16 of 64 cells or fewer) a grid matches only exactly (v3: 0.30)
FULL_CONTENT = 0.45  # the score from which a grid may match under any alignment
CONTENT_BLUR = 1.0  # grid pixels, as the verification compares the grids


def content_score(grid: npt.NDArray[np.float64]) -> float:
    """The fraction of structured cells of a grid, 0..1 (see module docstring)."""
    g = np.asarray(grid, dtype=np.float64)
    low, high = np.percentile(g, [1.0, 99.0])
    if float(high - low) < MIN_SPREAD:
        return 0.0
    h, w = g.shape
    ranks = blur(_ranks(g), CONTENT_BLUR)
    levels = blur(g, CONTENT_BLUR)
    shape = (h // CELL, CELL, w // CELL, CELL)
    rank_std = ranks[: h - h % CELL, : w - w % CELL].reshape(shape).std(axis=(1, 3))
    level_std = levels[: h - h % CELL, : w - w % CELL].reshape(shape).std(axis=(1, 3))
    return float(((rank_std >= CELL_SPREAD) & (level_std >= MIN_CELL_STD)).mean())


def _ranks(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Ranks with ties averaged, scaled to 0..1: the same for any increasing grey-level map."""
    flat = values.reshape(-1)
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mid = (ends - (counts - 1) / 2.0 - 1.0) / max(len(flat) - 1, 1)
    return np.asarray(mid[inverse].reshape(values.shape), dtype=np.float64)
