"""Verification: confirm or reject a candidate pair by aligning their grids and comparing them.

Given two descriptors (:mod:`ledger.similarity.descriptor`), find the geometric
relation that best maps one grid onto the other, then score the aligned pixels.

* **Alignment.** Hypotheses place the stored image's content box inside the
  query's grid: one of the eight dihedral variants of the query, a scale per
  axis from 0.8 to 1.25 (crops down to 80% of a side, either way round), a
  shift, and a turn of up to a few degrees. A coarse search at 16 x 16 over a
  grid of hypotheses (the dihedral variants the candidate stage suggested
  first) keeps the best few; a pattern search at 32 x 32 refines each (shift,
  scale per axis, angle; steps halved three times).
* **Scores** on the part of the stored grid that the query covers:
  ``correlation`` = the larger of the Pearson correlation of the grey levels
  and that of their ranks (ranks make gamma, windowing and histogram
  equalisation harmless); ``worst_block`` = the largest residual energy, after
  the best affine grey-level fit, of the 4 x 4 blocks of 8 x 8 pixels, relative
  to the grid's variance. A re-encoded, re-windowed or slightly misaligned copy
  leaves a small residual everywhere; another slice of the same scan or
  another frame of a cine differs where the anatomy moved, which shows as one
  bad block even when the global correlation is high.
* **Overlap**: intersection over union of the two content boxes under the
  alignment (a crop to 80% of each side gives 0.64).

A pair matches when ``correlation >= min_correlation``, ``worst_block <=
max_worst_block`` and ``overlap >= min_overlap``; a grid without structure
(standard deviation under one grey level) never matches. The verdict always
carries the alignment and the scores, so a match explains itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ledger.errors import InputError
from ledger.fingerprint.hashes import DIHEDRAL_VARIANTS
from ledger.similarity.descriptor import GRID, Descriptor, blur, dihedral, sample_affine

Floats = npt.NDArray[np.float64]

COARSE = 16
VERIFY_BLUR = 1.0  # grid pixels: both grids are compared blurred, so resampling matters less
BLOCK = 8
_SCALES = (0.8, 0.9, 1.0, 1.0 / 0.9, 1.25)
_STEP = 0.05
_COARSE_ANGLES = (-6.0, -3.0, 3.0, 6.0)


@dataclass(frozen=True)
class Thresholds:
    """The verification decision; the shipped defaults are chosen in docs/similarity.md."""

    min_correlation: float = 0.90
    max_worst_block: float = 0.055
    min_overlap: float = 0.55

    def __post_init__(self) -> None:
        if not -1.0 <= self.min_correlation <= 1.0:
            raise InputError(f"min_correlation must be in -1..1, got {self.min_correlation}")
        if self.max_worst_block < 0.0:
            raise InputError(f"max_worst_block must be >= 0, got {self.max_worst_block}")
        if not 0.0 <= self.min_overlap <= 1.0:
            raise InputError(f"min_overlap must be in 0..1, got {self.min_overlap}")


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Alignment:
    """Where the stored image's content box lies in the query (after ``variant``).

    ``centre``/``scale`` are fractions of the query's content box; ``scale`` > 1 on an
    axis means the query shows only part of the stored image on that axis (a crop).
    """

    variant: int
    centre: tuple[float, float]
    scale: tuple[float, float]
    degrees: float

    @property
    def transform(self) -> str:
        return DIHEDRAL_VARIANTS[self.variant]

    def to_json(self) -> dict[str, Any]:
        return {
            "transform": self.transform,
            "centre": [round(v, 3) for v in self.centre],
            "scale": [round(v, 3) for v in self.scale],
            "degrees": round(self.degrees, 1),
        }


@dataclass(frozen=True)
class Verdict:
    """The decision for one pair and why."""

    matched: bool
    correlation: float
    worst_block: float
    overlap: float
    alignment: Alignment | None
    reason: str
    scores: dict[str, float] = field(default_factory=dict)

    def explain(self) -> str:
        if self.alignment is None:
            return self.reason
        a = self.alignment
        geometry = a.transform
        if abs(a.degrees) >= 0.5:
            geometry += f", turned {a.degrees:+.1f} deg"
        if max(abs(a.scale[0] - 1.0), abs(a.scale[1] - 1.0)) >= 0.03:
            geometry += f", scale {a.scale[0]:.2f} x {a.scale[1]:.2f}"
        return (
            f"{self.reason}: {geometry}; correlation {self.correlation:.3f}, "
            f"worst block {self.worst_block:.3f}, overlap {self.overlap:.2f}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "correlation": round(self.correlation, 4),
            "worst_block": round(self.worst_block, 4),
            "overlap": round(self.overlap, 3),
            "alignment": None if self.alignment is None else self.alignment.to_json(),
            "reason": self.reason,
        }


def verify(
    stored: Descriptor,
    query: Descriptor,
    *,
    variants: tuple[int, ...] = (),
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Verdict:
    """Compare ``query`` with ``stored``; ``variants`` are dihedral hints searched first."""
    a = blur(stored.array.astype(np.float64), VERIFY_BLUR)
    b = blur(query.array.astype(np.float64), VERIFY_BLUR)
    if stored.flat or query.flat:
        return Verdict(False, 0.0, 1.0, 0.0, None, "no structure (flat image)")
    everything = tuple(range(8))
    hinted = tuple(dict.fromkeys(v for v in variants if 0 <= v < 8))
    best = _search(a, b, hinted or everything)
    if hinted and best[0] < thresholds.min_correlation:
        best = max(best, _search(a, b, everything), key=lambda item: item[0])
    _, hypothesis = best
    return _decide(a, b, hypothesis, thresholds)


# --- the search ----------------------------------------------------------------------------

# a hypothesis: (variant, cy, cx, sy, sx, degrees)
Hypothesis = tuple[int, float, float, float, float, float]


def _coarse_hypotheses() -> list[tuple[float, float, float, float, float]]:
    out: list[tuple[float, float, float, float, float]] = []
    for sy in _SCALES:
        for sx in _SCALES:
            for cy in _offsets(sy):
                for cx in _offsets(sx):
                    out.append((cy, cx, sy, sx, 0.0))
    for angle in _COARSE_ANGLES:
        for s in _SCALES:
            out.append((0.5, 0.5, s, s, angle))
    return out


def _offsets(scale: float) -> list[float]:
    room = abs(scale - 1.0) / 2.0
    steps = math.floor(room / _STEP + 1e-9)
    return [0.5 + k * _STEP for k in range(-steps, steps + 1)]


_COARSE = np.asarray(_coarse_hypotheses(), dtype=np.float64)


def _small(grid: Floats) -> Floats:
    f = GRID // COARSE
    return np.asarray(grid.reshape(COARSE, f, COARSE, f).mean(axis=(1, 3)), dtype=np.float64)


def _search(a: Floats, b: Floats, variants: tuple[int, ...]) -> tuple[float, Hypothesis]:
    a_small = _small(a)
    scored: list[tuple[float, Hypothesis]] = []
    for variant in variants:
        bv = _small(dihedral(b, variant))
        r = _correlations(a_small, bv, _COARSE, COARSE)
        for i in np.argsort(-r)[:2]:
            cy, cx, sy, sx, deg = (float(v) for v in _COARSE[i])
            scored.append((float(r[i]), (variant, cy, cx, sy, sx, deg)))
    scored.sort(key=lambda item: -item[0])
    refined = [_refine(a, b, hyp) for _, hyp in scored[:3]]
    return max(refined, key=lambda item: item[0])


def _refine(a: Floats, b: Floats, hyp: Hypothesis) -> tuple[float, Hypothesis]:
    variant = hyp[0]
    bv = dihedral(b, variant)
    current = np.asarray(hyp[1:], dtype=np.float64)
    steps = np.asarray([0.02, 0.02, 0.03, 0.03, 1.5])
    score = float(_correlations(a, bv, current[np.newaxis], GRID)[0])
    for _ in range(3):
        for _ in range(3):
            moves = np.concatenate(
                [current + np.diag(steps)[i] * sign for i in range(5) for sign in (-1.0, 1.0)]
            ).reshape(-1, 5)
            moves[:, 2:4] = np.clip(moves[:, 2:4], 0.65, 1.55)
            moves[:, 4] = np.clip(moves[:, 4], -8.0, 8.0)
            r = _correlations(a, bv, moves, GRID)
            i = int(np.argmax(r))
            if r[i] <= score:
                break
            score, current = float(r[i]), moves[i]
        steps = steps / 2.0
    cy, cx, sy, sx, deg = (float(v) for v in current)
    return score, (variant, cy, cx, sy, sx, deg)


def _correlations(a: Floats, bv: Floats, hyps: Floats, n: int) -> Floats:
    """Pearson correlation of ``a`` with ``bv`` sampled at each hypothesis (valid part only)."""
    samples, inside = _sample(bv, hyps, n)
    m = inside.astype(np.float64)
    count = m.sum(axis=(1, 2))
    ok = count >= 0.5 * n * n
    safe = np.maximum(count, 1.0)
    mean_a = (a[np.newaxis] * m).sum(axis=(1, 2)) / safe
    mean_s = (samples * m).sum(axis=(1, 2)) / safe
    da = (a[np.newaxis] - mean_a[:, None, None]) * m
    ds = (samples - mean_s[:, None, None]) * m
    num = (da * ds).sum(axis=(1, 2))
    den = np.sqrt((da * da).sum(axis=(1, 2)) * (ds * ds).sum(axis=(1, 2)))
    r = np.where(den > 1e-9, num / np.maximum(den, 1e-12), 0.0)
    return np.asarray(np.where(ok, r, -1.0), dtype=np.float64)


def _sample(bv: Floats, hyps: Floats, n: int) -> tuple[Floats, npt.NDArray[np.bool_]]:
    centres = hyps[:, 0:2]
    sizes = hyps[:, 2:4]
    return sample_affine(bv, centres=centres, sizes=sizes, angles=np.radians(hyps[:, 4]), n=n)


# --- the decision ----------------------------------------------------------------------------


def _ranks(values: Floats) -> Floats:
    """Ranks with ties averaged, scaled to 0..1."""
    flat = values.reshape(-1)
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mid = (ends - (counts - 1) / 2.0 - 1.0) / max(len(flat) - 1, 1)
    return np.asarray(mid[inverse].reshape(values.shape), dtype=np.float64)


def _decide(a: Floats, b: Floats, hyp: Hypothesis, thresholds: Thresholds) -> Verdict:
    variant, cy, cx, sy, sx, deg = hyp
    bv = dihedral(b, variant)
    h = np.asarray([[cy, cx, sy, sx, deg]], dtype=np.float64)
    samples, inside = _sample(bv, h, GRID)
    s, m = samples[0], inside[0]
    if m.sum() < 0.5 * GRID * GRID:
        return Verdict(False, 0.0, 1.0, 0.0, None, "no alignment covers half of the image")
    pearson = _pearson(a[m], s[m])
    spearman = _pearson(_ranks(a[m]), _ranks(np.round(s[m])))
    correlation = max(pearson, spearman)
    if spearman > pearson:  # a non-linear grey-level map: judge the residual on ranks
        rank_a, rank_s = np.zeros_like(a), np.zeros_like(s)
        rank_a[m], rank_s[m] = _ranks(a[m]), _ranks(np.round(s[m]))
        worst = _worst_block(rank_a, rank_s, m)
    else:
        worst = _worst_block(a, s, m)
    overlap = _overlap(sy, sx, cy, cx)
    alignment = Alignment(variant, (cy, cx), (sy, sx), deg)
    scores = {"pearson": pearson, "spearman": spearman}
    failed = []
    if correlation < thresholds.min_correlation:
        failed.append(f"correlation {correlation:.3f} < {thresholds.min_correlation}")
    if worst > thresholds.max_worst_block:
        failed.append(f"worst block {worst:.3f} > {thresholds.max_worst_block}")
    if overlap < thresholds.min_overlap:
        failed.append(f"overlap {overlap:.2f} < {thresholds.min_overlap}")
    reason = "near-duplicate" if not failed else "different: " + "; ".join(failed)
    return Verdict(not failed, correlation, worst, overlap, alignment, reason, scores)


def _pearson(x: Floats, y: Floats) -> float:
    dx, dy = x - x.mean(), y - y.mean()
    den = math.sqrt(float((dx * dx).sum()) * float((dy * dy).sum()))
    return float((dx * dy).sum()) / den if den > 1e-9 else 0.0


def _worst_block(a: Floats, s: Floats, m: npt.NDArray[np.bool_]) -> float:
    """Largest block residual energy after the best affine fit a ~ alpha * s + beta."""
    av, sv = a[m], s[m]
    var = float(av.var())
    if var <= 1e-9:
        return 1.0
    ds = sv - sv.mean()
    alpha = float((ds * (av - av.mean())).sum()) / max(float((ds * ds).sum()), 1e-9)
    fitted = alpha * (s - sv.mean()) + av.mean()
    residual = np.where(m, (a - fitted) ** 2, 0.0)
    k = GRID // BLOCK
    energy = residual.reshape(k, BLOCK, k, BLOCK).sum(axis=(1, 3))
    counts = m.reshape(k, BLOCK, k, BLOCK).sum(axis=(1, 3))
    valid = counts >= BLOCK * BLOCK // 2
    if not valid.any():
        return 1.0
    return float((energy[valid] / counts[valid]).max() / var)


def _overlap(sy: float, sx: float, cy: float, cx: float) -> float:
    """IoU of the stored box (size sy x sx at cy, cx) and the query box (unit square)."""
    iy = max(0.0, min(cy + sy / 2, 1.0) - max(cy - sy / 2, 0.0))
    ix = max(0.0, min(cx + sx / 2, 1.0) - max(cx - sx / 2, 0.0))
    inter = iy * ix
    union = sy * sx + 1.0 - inter
    return inter / union if union > 0 else 0.0
