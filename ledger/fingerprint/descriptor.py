"""The near-duplicate descriptor of one image: a 32 x 32 grey grid of its content box.

Input: the canonical 64 x 64 thumbnail that registration already computes,
``ledger.imaging.render.thumbnail(decoded, size=64)`` (float, 0..255), or any
2-D grey array (area-averaged to 64 x 64 first).

1. **Content box.** Border rows and columns that are flat (their spread is at
   most twice a tolerance, and their mean within the tolerance of the outermost
   line's mean) are trimmed, at most 40% of the thumbnail from each side;
   the tolerance is ``max(3, 4% of the 1..99 percentile spread)`` grey levels.
   Letterboxing, pad-to-square and the black frame around a scan fall away, so
   a padded copy and its original describe the same content.
2. **Grid.** The box, area-averaged (Pillow ``BOX``) to 32 x 32 and rounded to
   8 bits: 1,024 bytes that are stored and compared by the verification stage
   (:mod:`ledger.similarity.verification`). The grid is what a person would see in a
   32-pixel icon of the image (see docs/similarity.md on why that identifies
   nobody).
3. **Keys.** Six 64-bit window hashes of the grid (blurred with a Gaussian of
   one grid pixel), the candidate stage's index keys: the whole grid, its
   central 60% (which lies inside every crop down to 80% of each side) and that
   window shifted by 5% diagonally four ways (so that, with the query's spread
   of crop windows, some pair is within 2.5% of the right offset). A window
   hash samples the window bilinearly to
   32 x 32, takes the 8 x 8 lowest frequencies of its 2-D DCT-II and sets a bit
   where the coefficient exceeds their median (pHash; most significant bit
   first). The eight flips and rotations of a window come from one DCT (as in
   :mod:`ledger.fingerprint.hashes`).

The query side (:func:`query_keys`) hashes more windows of the query's grid:
the same two, each also turned by a few degrees, and a spread of 66% and 75%
windows around the centre (``QUERY_CROPS``) and the whole grid less a strip on one side
(``QUERY_TRIMS``), each in the eight dihedral variants, so that a flipped, rotated or cropped
copy, or one whose box kept a border the stored box trimmed, has some key near an indexed key.

Everything derives from the grid, so a stored descriptor can be re-checked
(:meth:`Descriptor.check`) and the query keys of a registered image can be
computed from its stored descriptor alone.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from ledger.errors import InputError
from ledger.fingerprint.hashes import DIHEDRAL_SIGNS, dct_matrix

ALG = "dup-grid"
VERSION = 1
GRID = 32
THUMB = 64
FLAT_STD = 1.0  # grey levels: a grid whose standard deviation is below this has no structure

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
U64 = npt.NDArray[np.uint64]

# Index windows (y0, x0, y1, x1) as fractions of the grid.
INDEX_WINDOWS: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 0.0, 1.0, 1.0),
    (0.2, 0.2, 0.8, 0.8),
    (0.15, 0.15, 0.75, 0.75),
    (0.15, 0.25, 0.75, 0.85),
    (0.25, 0.15, 0.85, 0.75),
    (0.25, 0.25, 0.85, 0.85),
)
KEY_NAMES = (
    "whole",
    "centre-60%",
    "60%-up-left",
    "60%-up-right",
    "60%-down-left",
    "60%-down-right",
)
KEYS = len(INDEX_WINDOWS)
BLUR_SIGMA = 1.0  # grid pixels: window hashes are taken of the slightly blurred grid
QUERY_ANGLES = (-6.0, -3.0, 3.0, 6.0)  # degrees; the index windows turned
# Query crop windows: (side, shift). A window of side a of a crop that kept s of each side
# lines up with the stored centre 60% when a = 0.6 / s; its centre then lies within
# (a - 0.6) / 1.2 of the middle. Side 0.66 covers crops to about 0.91 (centres +-0.05),
# 0.75 crops to 0.8 (+-0.125); the shifts put a window within about 2.5% of every offset.
QUERY_CROPS = ((0.66, 0.045), (0.75, 0.09))
# Query windows that leave out a strip this wide on one side: the stored image's content box
# trimmed a flat border on that side which the copy's box kept (after gamma, equalisation, noise
# or a rotation's fill wedges the border no longer looks flat), so the stored whole image is the
# copy less that strip. 8% was the best of 6-12% on the benchmark and on held-out transforms.
QUERY_TRIMS = (0.08,)


@dataclass(frozen=True)
class Descriptor:
    """A validated descriptor: 32 x 32 uint8 grid and its six index keys."""

    grid: bytes  # GRID * GRID bytes, row-major
    keys: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.grid) != GRID * GRID:
            raise InputError(f"descriptor grid must be {GRID * GRID} bytes, got {len(self.grid)}")
        if len(self.keys) != len(INDEX_WINDOWS) or any(not 0 <= k < 1 << 64 for k in self.keys):
            raise InputError(f"descriptor keys must be {KEYS} 64-bit values")

    @property
    def array(self) -> npt.NDArray[np.uint8]:
        return np.frombuffer(self.grid, dtype=np.uint8).reshape(GRID, GRID)

    @property
    def flat(self) -> bool:
        return bool(self.array.std() < FLAT_STD)

    def to_json(self) -> dict[str, Any]:
        return {
            "alg": ALG,
            "v": VERSION,
            "grid": base64.b64encode(self.grid).decode("ascii"),
            "keys": [f"{k:016x}" for k in self.keys],
        }

    @classmethod
    def from_json(cls, value: Any) -> Descriptor:
        """Parse a stored descriptor; InputError for another algorithm, version or shape."""
        if not isinstance(value, dict):
            raise InputError("malformed descriptor: not an object")
        if value.get("alg") != ALG or value.get("v") != VERSION:
            raise InputError(
                f"descriptor {value.get('alg')!r} v{value.get('v')!r} is not {ALG} v{VERSION}"
            )
        try:
            grid = base64.b64decode(value["grid"], validate=True)
            keys = tuple(int(k, 16) for k in value["keys"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed descriptor: {exc}") from None
        if len(keys) != KEYS or any(len(k) != 16 for k in value["keys"]):
            raise InputError(f"malformed descriptor: keys must be {KEYS} 16-digit hex values")
        return cls(grid=grid, keys=keys)

    @property
    def grid_sha256(self) -> str:
        return hashlib.sha256(self.grid).hexdigest()

    def reference(self) -> dict[str, Any]:
        """What the signed entry holds: the keys and the grid's digest, not the grid.

        The grid stays in the repository's own store (it is a 32 x 32 picture), where the
        digest lets anyone holding it check it against the log."""
        return {
            "alg": ALG,
            "v": VERSION,
            "keys": [f"{k:016x}" for k in self.keys],
            "grid_sha256": self.grid_sha256,
        }

    def check(self) -> None:
        """Raise InputError unless the keys are the ones the grid gives."""
        expected = index_keys(self.array)
        if expected != self.keys:
            raise InputError("descriptor keys do not match its grid")


def describe(image: npt.ArrayLike) -> Descriptor:
    """The descriptor of a 64 x 64 canonical thumbnail (or any 2-D grey array on 0..255)."""
    thumb = _thumb64(image)
    y0, x0, y1, x1 = content_box(thumb)
    boxed = Image.fromarray(thumb.astype(np.float32), mode="F").resize(
        (GRID, GRID), Image.Resampling.BOX, box=(x0, y0, x1, y1)
    )
    grid = np.asarray(np.clip(np.rint(np.asarray(boxed, dtype=np.float64)), 0, 255), np.uint8)
    return Descriptor(grid=grid.tobytes(), keys=index_keys(grid))


def content_box(thumb: Floats) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1) of the thumbnail once flat borders are trimmed (see module docstring)."""
    h, w = thumb.shape
    low, high = _percentiles_1_99(thumb)
    tol = max(3.0, 0.04 * float(high - low))
    y0, y1, x0, x1 = 0, h, 0, w
    if float(np.ptp(thumb)) <= 2.0 * tol:  # flat all over: nothing is a border
        return y0, x0, y1, x1
    # Every line's spread and mean at once (each row reduced as a contiguous row, the
    # same sums as line.mean() of that line alone), then a walk over plain floats.
    rows, columns = np.ascontiguousarray(thumb), np.ascontiguousarray(thumb.T)
    row_ptp, row_mean = np.ptp(rows, axis=1).tolist(), rows.mean(axis=1).tolist()
    col_ptp, col_mean = np.ptp(columns, axis=1).tolist(), columns.mean(axis=1).tolist()
    spread = 2.0 * tol

    def flat(ptp: list[float], mean: list[float], line: int, edge: float) -> bool:
        return ptp[line] <= spread and abs(mean[line] - edge) <= tol

    top, bottom, left, right = row_mean[0], row_mean[-1], col_mean[0], col_mean[-1]
    limit_y, limit_x = h * 2 // 5, w * 2 // 5
    while y0 < limit_y and flat(row_ptp, row_mean, y0, top):
        y0 += 1
    while y1 > h - limit_y and flat(row_ptp, row_mean, y1 - 1, bottom):
        y1 -= 1
    while x0 < limit_x and flat(col_ptp, col_mean, x0, left):
        x0 += 1
    while x1 > w - limit_x and flat(col_ptp, col_mean, x1 - 1, right):
        x1 -= 1
    return y0, x0, y1, x1


_PERCENTS = np.asarray([1.0, 99.0]) / 100  # as np.percentile turns percents into quantiles


@cache
def _quantile_plan(n: int) -> tuple[npt.NDArray[Any], ...]:
    """np.quantile's "linear" method for n values at _PERCENTS, precomputed with its own steps:
    the kth list it partitions at, the neighbour indexes, and the weight and its choice."""
    virtual = (n - 1) * _PERCENTS
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= n - 1
    previous[above], following[above] = -1, -1
    below = virtual < 0
    previous[below], following[below] = 0, 0
    prev_i, next_i = previous.astype(np.intp), following.astype(np.intp)
    kth = np.unique(np.concatenate(([0, -1], prev_i, next_i)))
    gamma = np.asarray(virtual - prev_i, dtype=virtual.dtype)
    high_side = gamma >= 0.5
    for array in (kth, prev_i, next_i, gamma, high_side):
        array.setflags(write=False)
    return kth, prev_i, next_i, gamma, high_side


def _percentiles_1_99(values: Floats) -> tuple[float, float]:
    """``np.percentile(values, [1, 99])`` bit for bit, without its generic set-up cost.

    The same partition (same kth list, so the same pick among equal values) and the
    same interpolation arithmetic (numpy's ``_lerp``); the tests compare the two."""
    kth, prev_i, next_i, gamma, high_side = _quantile_plan(values.size)
    part = np.partition(values.ravel(), kth)
    if np.isnan(part[-1]):
        return float("nan"), float("nan")
    a, b = part[prev_i], part[next_i]
    diff = b - a
    out = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=out, where=high_side)
    return float(out[0]), float(out[1])


def index_keys(grid: npt.ArrayLike) -> tuple[int, ...]:
    """The index keys of a grid (identity orientation), in ``KEY_NAMES`` order."""
    g = blur(np.asarray(grid, dtype=np.float64))
    keys = window_hashes(_bilinear(g, _index_sampling(*g.shape)))[:, 0]
    return tuple(int(k) for k in keys)


def blur(grid: Floats, sigma: float = BLUR_SIGMA) -> Floats:
    """Separable Gaussian blur (radius 3 sigma, edges repeated)."""
    kernel = _kernel(sigma)
    radius = (len(kernel) - 1) // 2
    padded = np.pad(grid, radius, mode="edge")
    h, w = grid.shape
    # Terms added left to right from 0, as sum() of them would (0 + x turns -0.0 into 0.0).
    rows = np.add(0.0, kernel[0] * padded[0:h, :])
    for i in range(1, len(kernel)):
        rows += kernel[i] * padded[i : i + h, :]
    out = np.add(0.0, kernel[0] * rows[:, 0:w])
    for i in range(1, len(kernel)):
        out += kernel[i] * rows[:, i : i + w]
    return np.asarray(out, dtype=np.float64)


@cache
def _kernel(sigma: float) -> tuple[float, ...]:
    radius = max(1, round(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    return tuple(kernel.tolist())


@dataclass(frozen=True)
class QueryKeys:
    """The keys a query probes: ``keys[i]`` is window ``window[i]`` in dihedral ``variant[i]``,
    of the query's grid or, where ``inverted[i]``, of its negative (255 - grid)."""

    keys: U64
    window: npt.NDArray[np.intp]  # index into :func:`query_windows`
    variant: npt.NDArray[np.intp]  # 0..7, ledger.fingerprint.hashes.DIHEDRAL_VARIANTS order
    inverted: npt.NDArray[np.bool_]


def query_windows() -> tuple[Floats, Floats]:
    """The query's windows: boxes (n, 4) as fractions of the grid, and angles (n,) in degrees."""
    base = INDEX_WINDOWS[:2]  # whole and centre; the shifted centres pair with the crop spread
    boxes: list[tuple[float, float, float, float]] = list(base)
    angles: list[float] = [0.0] * len(base)
    for window in base:
        for angle in QUERY_ANGLES:
            boxes.append(window)
            angles.append(angle)
    for size, shift in QUERY_CROPS:
        for dy in (-shift, 0.0, shift):
            for dx in (-shift, 0.0, shift):
                cy, cx, half = 0.5 + dy, 0.5 + dx, size / 2
                boxes.append((cy - half, cx - half, cy + half, cx + half))
                angles.append(0.0)
    for t in QUERY_TRIMS:  # less a strip at the top, bottom, left, right
        boxes += [(t, 0.0, 1.0, 1.0), (0.0, 0.0, 1.0 - t, 1.0)]
        boxes += [(0.0, t, 1.0, 1.0), (0.0, 0.0, 1.0, 1.0 - t)]
        angles += [0.0] * 4
    return np.asarray(boxes, dtype=np.float64), np.asarray(angles, dtype=np.float64)


_QUERY_BOXES, _QUERY_ANGLES = query_windows()
# The query windows also probed in negative: the upright whole grid and its centre (the first
# two windows; see query_windows). An inverted copy that was also cropped or turned is missed.
INVERTED_WINDOWS = (0, 1)


def query_keys(descriptor: Descriptor) -> QueryKeys:
    """Every (window, dihedral variant) key of a query descriptor, and the upright whole and
    centre windows of its negative (a MONOCHROME1 image exported without its inversion)."""
    g = blur(descriptor.array.astype(np.float64))
    windows = _bilinear(g, _query_sampling(*g.shape))  # sample_windows of the query windows
    negative = 255.0 - windows[list(INVERTED_WINDOWS)]
    keys = window_hashes(np.concatenate((windows, negative)), exact=False)  # (windows, 8)
    n, upright = keys.shape[0], len(windows)
    window = np.concatenate((np.arange(upright), INVERTED_WINDOWS)).astype(np.intp)
    return QueryKeys(
        keys=keys.reshape(-1),
        window=np.repeat(window, 8),
        variant=np.tile(np.arange(8, dtype=np.intp), n),
        inverted=np.repeat(np.arange(n) >= upright, 8),
    )


# --- sampling and hashing ----------------------------------------------------------------


def sample_windows(
    image: Floats,
    boxes: Floats,
    *,
    angles: Floats | None = None,
    n: int = GRID,
) -> Floats:
    """Bilinear samples (k, n, n) of ``image`` over each box (y0, x0, y1, x1) in fractions,
    turned by ``angles`` degrees about the box centre; edges are clamped."""
    centres = np.stack(((boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2), 1)
    sizes = np.stack((boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), 1)
    radians = np.zeros(len(boxes)) if angles is None else np.radians(angles)
    values, _ = sample_affine(image, centres=centres, sizes=sizes, angles=radians, n=n)
    return values


def sample_affine(
    image: Floats, *, centres: Floats, sizes: Floats, angles: Floats, n: int
) -> tuple[Floats, Bools]:
    """Bilinear samples (k, n, n) of windows with centre (y, x) and size (h, w) in fractions of
    ``image``, turned by ``angles`` radians; and which samples fall inside the image."""
    h, w = image.shape
    sampling = _sampling(h, w, centres=centres, sizes=sizes, angles=angles, n=n)
    return _bilinear(image, sampling), sampling.inside


@dataclass(frozen=True, eq=False)
class _Sampling:
    """Where bilinear samples fall: the four neighbours' flat indexes and their weights."""

    corners: tuple[npt.NDArray[np.intp], ...]  # (y0, x0), (y0, x0 + 1), (y0 + 1, x0), ...
    wx: tuple[Floats, Floats]  # 1 - fx, fx
    wy: tuple[Floats, Floats]  # 1 - fy, fy
    inside: Bools


def _sampling(
    h: int, w: int, *, centres: Floats, sizes: Floats, angles: Floats, n: int
) -> _Sampling:
    t = (np.arange(n, dtype=np.float64) + 0.5) / n - 0.5
    gy, gx = t[np.newaxis, :, np.newaxis], t[np.newaxis, np.newaxis, :]
    cos = np.cos(angles)[:, np.newaxis, np.newaxis]
    sin = np.sin(angles)[:, np.newaxis, np.newaxis]
    sy = sizes[:, 0][:, np.newaxis, np.newaxis]
    sx = sizes[:, 1][:, np.newaxis, np.newaxis]
    # a turn in pixel space: scale the offsets by the image's sides first
    dy, dx = gy * sy * h, gx * sx * w
    py = centres[:, 0][:, np.newaxis, np.newaxis] * h + cos * dy - sin * dx - 0.5
    px = centres[:, 1][:, np.newaxis, np.newaxis] * w + sin * dy + cos * dx - 0.5
    inside = (py >= -0.5) & (py <= h - 0.5) & (px >= -0.5) & (px <= w - 0.5)
    py = np.clip(py, 0.0, h - 1.0)
    px = np.clip(px, 0.0, w - 1.0)
    y0 = np.minimum(py.astype(np.intp), h - 2)
    x0 = np.minimum(px.astype(np.intp), w - 2)
    fy, fx = py - y0, px - x0
    corner = y0 * w + x0  # flat index of image[y0, x0]
    return _Sampling(
        corners=(corner, corner + 1, corner + w, corner + w + 1),
        wx=(1 - fx, fx),
        wy=(1 - fy, fy),
        inside=inside,
    )


def _bilinear(image: Floats, s: _Sampling) -> Floats:
    flat = np.ascontiguousarray(image).ravel()
    c00, c01, c10, c11 = (flat[c] for c in s.corners)
    top = c00 * s.wx[0] + c01 * s.wx[1]
    bottom = c10 * s.wx[0] + c11 * s.wx[1]
    return np.asarray(top * s.wy[0] + bottom * s.wy[1], dtype=np.float64)


@cache
def _index_sampling(h: int, w: int) -> _Sampling:
    """The index windows' sampling of an h x w grid: the same for every grid, so made once."""
    boxes = np.asarray(INDEX_WINDOWS, dtype=np.float64)
    return _frozen_sampling(h, w, boxes, np.zeros(len(boxes)))


@cache
def _query_sampling(h: int, w: int) -> _Sampling:
    """The query windows' sampling (:func:`query_windows`), made once like the index's."""
    return _frozen_sampling(h, w, _QUERY_BOXES, np.radians(_QUERY_ANGLES))


def _frozen_sampling(h: int, w: int, boxes: Floats, radians: Floats) -> _Sampling:
    centres = np.stack(((boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2), 1)
    sizes = np.stack((boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), 1)
    sampling = _sampling(h, w, centres=centres, sizes=sizes, angles=radians, n=GRID)
    for array in (*sampling.corners, *sampling.wx, *sampling.wy, sampling.inside):
        array.setflags(write=False)
    return sampling


# The same DCT and dihedral sign tables as the registration fingerprints.
_D = np.asarray(dct_matrix(GRID, 8), dtype=np.float64)
_TRANSPOSED = (np.arange(8) >> 2) & 1
_SIGNS = DIHEDRAL_SIGNS
_WEIGHTS = (np.uint64(1) << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)


def window_hashes(windows: Floats, *, exact: bool = True) -> U64:
    """(k, 32, 32) windows -> (k, 8) 64-bit pHashes of the eight dihedral variants of each.

    ``exact``: the DCT summed in the order the stored keys were made with (one ``einsum``), so
    a stored descriptor's keys re-derive bit for bit. Query keys, never stored, take two
    matrix products instead (three times faster; a coefficient that differs in its last bit
    and rounds across the sixth decimal can flip one query bit, a distance of one)."""
    if exact:
        low = np.round(np.einsum("ui,kij,vj->kuv", _D, windows, _D), 6) + 0.0
    else:
        low = np.round(_D @ windows @ _D.T, 6) + 0.0
    both = np.stack((low, low.transpose(0, 2, 1)), axis=1)  # (k, 2, 8, 8)
    variants = (both[:, _TRANSPOSED] * _SIGNS[np.newaxis]).reshape(-1, 64)
    ordered = np.sort(variants, axis=1)
    median = (ordered[:, 31] + ordered[:, 32]) / 2.0
    bits = variants > median[:, np.newaxis]
    packed = np.packbits(bits, axis=1).view(">u8").astype(np.uint64).reshape(-1)
    return packed.reshape(-1, 8)


def dihedral(grid: npt.NDArray[Any], variant: int) -> npt.NDArray[Any]:
    """Variant ``variant`` of a 2-D array (ledger.fingerprint.hashes.DIHEDRAL_VARIANTS order)."""
    out = grid.T if variant & 4 else grid
    if variant & 2:
        out = out[::-1, :]
    if variant & 1:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def _thumb64(image: npt.ArrayLike) -> Floats:
    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 2 or min(array.shape) < 1:
        raise InputError(f"descriptor input must be a 2-D grey image, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError("descriptor input has non-finite values")
    if array.shape == (THUMB, THUMB):
        return array
    small = Image.fromarray(array.astype(np.float32), mode="F").resize(
        (THUMB, THUMB), Image.Resampling.BOX
    )
    return np.asarray(small, dtype=np.float64)
