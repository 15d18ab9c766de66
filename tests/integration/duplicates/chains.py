"""Synthetic pictures that chain: A ~ B and B ~ C verify, A ~ C does not. Shared by tests
and ``bench/composition.py`` (imported with ``tests/`` on ``sys.path``, as pytest does).

One layout (bright and dark regions with wavy borders, crossing every row and column so no
border is trimmed as flat): B is the bare layout; A and C carry their own coarse texture
(independent seeds) of ``texture`` times the step between the two levels. A grey-level map
flattens a texture onto B's two levels, so A ~ B and B ~ C verify; A and C differ in every
block. At ``texture`` 0.14 with the default seeds the worst blocks are about 0.03 (A~B, B~C)
and 0.09 (A~C) against the 0.06 threshold.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

SIDE = 256
TEXTURE = 0.14
LOW, HIGH = 60.0, 190.0


def _texture(seed: int, amplitude: float) -> np.ndarray:
    noise = gaussian_filter(np.random.default_rng(seed).standard_normal((SIDE, SIDE)), 12)
    return np.clip(noise / noise.std(), -1.3, 1.3) * amplitude


def chain(
    *, phase: float = 0.0, seeds: tuple[int, int] = (5, 6), texture: float = TEXTURE
) -> dict[str, np.ndarray]:
    """{"a": A, "b": B, "c": C} as float grey images (0..255); ``phase`` moves the layout."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    wave_x = np.sin(2 * np.pi * (xx + 0.1 + phase) + 0.6 * np.sin(2 * np.pi * yy))
    wave_y = np.sin(2 * np.pi * (yy + 0.2 + phase / 2) + 0.4 * np.sin(3 * xx))
    layout = gaussian_filter((wave_x * wave_y > 0).astype(float), 0.5)
    base = LOW + (HIGH - LOW) * layout
    step = HIGH - LOW
    return {
        "a": base + _texture(seeds[0], texture * step),
        "b": base,
        "c": base + _texture(seeds[1], texture * step),
    }


def grey8(pixels: np.ndarray) -> np.ndarray:
    return np.asarray(np.clip(pixels, 0, 255), dtype=np.uint8)
