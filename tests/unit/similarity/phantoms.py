"""Small synthesized test images: smooth phantoms of ellipses (no files, no randomness leaks)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def phantom(seed: int, size: int = 128, *, moved: int | None = None) -> np.ndarray:
    """A size x size float image on 0..255: a body ellipse and six inner ellipses.

    ``moved`` shifts and enlarges that one inner ellipse (like the next slice of a scan,
    where one structure changed and everything else stayed).
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    image = np.zeros((size, size))
    image[((y - 0.5) / 0.42) ** 2 + ((x - 0.5) / 0.36) ** 2 <= 1] = 60.0
    for i in range(6):
        cy, cx = rng.uniform(0.28, 0.72, 2)
        ry, rx = rng.uniform(0.05, 0.14, 2)
        value = rng.uniform(90, 250)
        if i == moved:
            cy, cx, ry, rx = cy + 0.06, cx - 0.05, ry * 1.5, rx * 1.5
        image[((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1] = value
    image += 10 * np.sin(6 * x + 3 * y)
    blurred = Image.fromarray(image.astype(np.float32), mode="F").resize(
        (size // 2, size // 2), Image.Resampling.BOX
    )
    out = np.asarray(blurred.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float64)
    return np.clip(out, 0, 255)


def crop(image: np.ndarray, keep: float, *, top: float = 0.5, left: float = 0.5) -> np.ndarray:
    """Keep ``keep`` of each side; ``top``/``left`` place the window (0 = first edge)."""
    h, w = image.shape
    ch, cw = round(h * keep), round(w * keep)
    y, x = round((h - ch) * top), round((w - cw) * left)
    return image[y : y + ch, x : x + cw]


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    turned = Image.fromarray(image.astype(np.float32), mode="F").rotate(
        degrees, Image.Resampling.BICUBIC
    )
    return np.asarray(turned, dtype=np.float64)
