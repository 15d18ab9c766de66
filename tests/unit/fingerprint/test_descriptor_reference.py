"""The descriptor's fast paths against slow, obviously correct references (bit for bit).

The references are the original implementations: ``np.percentile``, a walk that takes
each line's spread and mean as it goes, ``sample_windows`` recomputing every coordinate,
and a blur that sums its terms with ``sum()``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from ledger.fingerprint import descriptor as d


def reference_content_box(thumb: np.ndarray) -> tuple[int, int, int, int]:
    h, w = thumb.shape
    low, high = np.percentile(thumb, [1.0, 99.0])
    tol = max(3.0, 0.04 * float(high - low))

    def flat(line: np.ndarray, edge: float) -> bool:
        return float(np.ptp(line)) <= 2.0 * tol and abs(float(line.mean()) - edge) <= tol

    y0, y1, x0, x1 = 0, h, 0, w
    if float(np.ptp(thumb)) <= 2.0 * tol:
        return y0, x0, y1, x1
    top, bottom = float(thumb[0].mean()), float(thumb[-1].mean())
    left, right = float(thumb[:, 0].mean()), float(thumb[:, -1].mean())
    limit_y, limit_x = h * 2 // 5, w * 2 // 5
    while y0 < limit_y and flat(thumb[y0], top):
        y0 += 1
    while y1 > h - limit_y and flat(thumb[y1 - 1], bottom):
        y1 -= 1
    while x0 < limit_x and flat(thumb[:, x0], left):
        x0 += 1
    while x1 > w - limit_x and flat(thumb[:, x1 - 1], right):
        x1 -= 1
    return y0, x0, y1, x1


def reference_blur(grid: np.ndarray, sigma: float) -> np.ndarray:
    radius = max(1, round(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(grid, radius, mode="edge")
    rows = sum(kernel[i] * padded[i : i + grid.shape[0], :] for i in range(len(kernel)))
    out = sum(kernel[i] * rows[:, i : i + grid.shape[1]] for i in range(len(kernel)))
    return np.asarray(out, dtype=np.float64)


def reference_windows(image: np.ndarray, n: int = d.GRID) -> np.ndarray:
    """Bilinear samples of the index windows, every coordinate computed afresh."""
    boxes = np.asarray(d.INDEX_WINDOWS, dtype=np.float64)
    h, w = image.shape
    t = (np.arange(n, dtype=np.float64) + 0.5) / n - 0.5
    gy, gx = t[np.newaxis, :, np.newaxis], t[np.newaxis, np.newaxis, :]
    cy = ((boxes[:, 0] + boxes[:, 2]) / 2)[:, np.newaxis, np.newaxis]
    cx = ((boxes[:, 1] + boxes[:, 3]) / 2)[:, np.newaxis, np.newaxis]
    sy = (boxes[:, 2] - boxes[:, 0])[:, np.newaxis, np.newaxis]
    sx = (boxes[:, 3] - boxes[:, 1])[:, np.newaxis, np.newaxis]
    cos, sin = np.ones_like(cy), np.zeros_like(cy)
    dy, dx = gy * sy * h, gx * sx * w
    py = np.clip(cy * h + cos * dy - sin * dx - 0.5, 0.0, h - 1.0)
    px = np.clip(cx * w + sin * dy + cos * dx - 0.5, 0.0, w - 1.0)
    y0 = np.minimum(py.astype(np.intp), h - 2)
    x0 = np.minimum(px.astype(np.intp), w - 2)
    fy, fx = py - y0, px - x0
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, dtype=np.float64)


def reference_index_keys(grid: np.ndarray) -> tuple[int, ...]:
    g = reference_blur(np.asarray(grid, dtype=np.float64), d.BLUR_SIGMA)
    return tuple(int(k) for k in d.window_hashes(reference_windows(g))[:, 0])


def reference_describe(thumb: np.ndarray) -> tuple[bytes, tuple[int, ...]]:
    y0, x0, y1, x1 = reference_content_box(thumb)
    boxed = Image.fromarray(thumb.astype(np.float32), mode="F").resize(
        (d.GRID, d.GRID), Image.Resampling.BOX, box=(x0, y0, x1, y1)
    )
    grid = np.asarray(np.clip(np.rint(np.asarray(boxed, dtype=np.float64)), 0, 255), np.uint8)
    return grid.tobytes(), reference_index_keys(grid)


def bordered(draw: st.DrawFn) -> np.ndarray:
    """A thumbnail with flat, noisy or signed-zero borders of random widths, or none."""
    values = st.floats(0.0, 255.0, allow_nan=False, width=32)
    thumb = draw(arrays(np.float64, (64, 64), elements=values))
    for side in range(4):
        width = draw(st.integers(0, 30))
        level = draw(st.sampled_from([0.0, -0.0, 7.0, 255.0, 128.5]))
        noise = draw(st.sampled_from([0.0, 1.0, 5.0]))
        band = level + noise * np.sin(np.arange(64.0) * (side + 1))
        view = np.rot90(thumb, side)
        view[:width] = band
    if draw(st.booleans()):
        thumb = np.rint(thumb / 40.0) * 40.0  # many ties
    return thumb


thumbnails = st.composite(bordered)()


@settings(max_examples=300, deadline=None)
@given(thumbnails)
def test_content_box_matches_the_reference(thumb: np.ndarray) -> None:
    assert d.content_box(thumb) == reference_content_box(thumb)
    assert d.content_box(thumb.T) == reference_content_box(thumb.T)  # not contiguous


@settings(max_examples=300, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 9), st.integers(1, 600)),
        elements=st.floats(-1e6, 1e6, allow_nan=False),
    )
)
def test_percentiles_match_numpy(values: np.ndarray) -> None:
    assert list(d._percentiles_1_99(values)) == np.percentile(values, [1.0, 99.0]).tolist()


@settings(max_examples=200, deadline=None)
@given(thumbnails)
def test_describe_matches_the_reference(thumb: np.ndarray) -> None:
    got = d.describe(thumb)
    assert (got.grid, got.keys) == reference_describe(thumb)


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.uint8, (32, 32)),
    st.sampled_from([0.5, 0.7, 1.0, 1.5, 2.0]),
)
def test_blur_and_index_keys_match_the_reference(grid: np.ndarray, sigma: float) -> None:
    values = grid.astype(np.float64)
    assert np.array_equal(d.blur(values, sigma), reference_blur(values, sigma))
    assert np.array_equal(d.blur(-values, sigma), reference_blur(-values, sigma))
    assert d.index_keys(grid) == reference_index_keys(grid)


def test_sampling_of_other_shapes_matches_the_reference() -> None:
    rng = np.random.default_rng(3)
    boxes = np.asarray(d.INDEX_WINDOWS, dtype=np.float64)
    for shape in ((32, 32), (17, 40), (64, 9)):
        image = rng.uniform(0.0, 255.0, shape)
        want = reference_windows(image)
        assert np.array_equal(d._bilinear(image, d._index_sampling(*shape)), want)
        assert np.array_equal(d.sample_windows(image, boxes), want)
        assert np.array_equal(d.sample_windows(np.asfortranarray(image), boxes), want)
