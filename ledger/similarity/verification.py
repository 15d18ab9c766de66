"""Verification: confirm or reject a candidate pair by aligning their grids and comparing them.

Given two descriptors (:mod:`ledger.fingerprint.descriptor`), find the geometric
relation that best maps one grid onto the other, then score the aligned pixels.

* **Alignment.** Hypotheses place the stored image's content box inside the
  query's grid: one of the eight dihedral variants of the query, a scale per
  axis from 0.8 to 1.25 (crops down to 80% of a side, either way round), a
  shift, and a turn of up to a few degrees made in a frame of some aspect
  (both grids squeeze a non-square box to a square, so a turn of the image is
  a turn plus a shear of the grid). A coarse search at 16 x 16 over a grid of
  hypotheses (the dihedral variants the candidate stage suggested first) keeps
  the best two; a pattern search at 32 x 32 refines each (shift, scale per
  axis, angle, aspect; steps halved three times).
* **Usable pixels**: the stored grid less its two outermost pixels and less
  whatever lands within two pixels of the query's edge (there blur and
  area-averaging mixed in what lay beyond the box: a rotation's fill, a crop's
  cut).
* **Scores** on the usable pixels: ``correlation`` = the larger of the Pearson
  correlation of the grey levels and that of their ranks; ``worst_block`` =
  the largest mean squared residual of the 4 x 4 blocks of 8 x 8 pixels,
  relative to the grid's variance, after the best *monotone* grey-level map
  of the query onto the stored grid or of the stored grid onto the query,
  whichever fits better (isotonic regression: gamma, windowing, another LUT
  and equalisation cost nothing; a copy is a monotone function of its
  original, but not the reverse where levels were merged, and which of the
  two is the copy is not known). A re-encoded, re-windowed or
  slightly misaligned copy leaves a small residual everywhere; another slice
  of the same scan or another frame of a cine differs where the anatomy
  moved, which shows as one bad block even when the global correlation is
  high.
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
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from ledger.errors import InputError
from ledger.fingerprint.content import FULL_CONTENT, MIN_CONTENT, content_score
from ledger.fingerprint.descriptor import GRID, Descriptor, blur, dihedral
from ledger.fingerprint.hashes import DIHEDRAL_VARIANTS
from ledger.similarity.localagreement import worst_local_correlation

Floats = npt.NDArray[np.float64]

COARSE = 16
VERIFY_BLUR = 1.0  # grid pixels: both grids are compared blurred, so resampling matters less
BLOCK = 8
_SCALES = (0.8, 0.9, 1.0, 1.0 / 0.9, 1.25)
_STEP = 0.05
_COARSE_ANGLES = (-6.0, -3.0, 3.0, 6.0)
_COARSE_ASPECTS = (-0.3, 0.0, 0.3)  # log aspect of the frame a coarse turn is made in
MARGIN = 2.0  # grid pixels at the edges (resampled against the fill) left out of the scores
_MIN_COVER = 0.3  # an alignment must cover this much of the stored grid
_HOPELESS = 0.5  # coarse correlation below which a pair is rejected without refinement
_REFINED = 2  # coarse hypotheses refined


# The version of the decision procedure. A ledger records the one that made its findings
# (DECISION_SETTING in its meta table); bump it whenever a change here can change a
# verdict, and the catch-up scan (ledger.similarity.scan) checks every image again.
# 2: the grey-level map is fitted both ways round (1: the query's levels onto the stored
# grid's only). 3: a grid with too little structure (content score) is matched only exactly.
# 4: a residual above GUARD_WORST_BLOCK needs local agreement (localagreement); exact-only
# below content 0.26 (0.30), a low-content pair needs local agreement of LOW_CONTENT_LOCAL.
DECISION_VERSION = 4
DECISION_SETTING = "dup_decision"  # the meta key recording it


@dataclass(frozen=True)
class Thresholds:
    """The verification decision; the shipped defaults are chosen in docs/similarity.md."""

    min_correlation: float = 0.80
    max_worst_block: float = 0.060
    min_overlap: float = 0.45

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
    aspect: float = 1.0  # the frame the turn is made in (a non-square image's width / height)
    inverted: bool = False  # the query is the stored image's negative (grey levels reversed)

    @property
    def transform(self) -> str:
        return DIHEDRAL_VARIANTS[self.variant]

    def to_json(self) -> dict[str, Any]:
        return {
            "transform": self.transform,
            "centre": [round(v, 3) for v in self.centre],
            "scale": [round(v, 3) for v in self.scale],
            "degrees": round(self.degrees, 1),
            "aspect": round(self.aspect, 3),
            "inverted": self.inverted,
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
        geometry = ("inverted grey levels, " if a.inverted else "") + a.transform
        if abs(a.degrees) >= 1.0:
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
    inverted: bool = False,
) -> Verdict:
    """Compare ``query`` with ``stored``; ``variants`` are dihedral hints searched first.

    ``inverted``: compare the query's negative (255 - grid), for a copy whose grey levels were
    reversed (a MONOCHROME1 image exported without its inversion); the verdict says so."""
    a = blur(stored.array.astype(np.float64), VERIFY_BLUR)
    query_grid = query.array.astype(np.float64)
    b = blur(255.0 - query_grid if inverted else query_grid, VERIFY_BLUR)
    if stored.flat or query.flat:
        return Verdict(False, 0.0, 1.0, 0.0, None, "no structure (flat image)")
    content = min(content_score(stored.array.astype(np.float64)), content_score(query_grid))
    if content < MIN_CONTENT:
        return _exact_only(stored, query, content, inverted=inverted)
    everything = tuple(range(8))
    hinted = tuple(dict.fromkeys(v for v in variants if 0 <= v < 8))
    best = _search(a, b, hinted or everything)
    others = tuple(v for v in everything if v not in hinted)
    if hinted and others and best[0] < thresholds.min_correlation:
        # the hint did not convince: refine another variant only where it starts out better
        again = _search(a, b, others, floor=best[0])
        best = max(best, again, key=lambda item: item[0])
    score, hypothesis = best
    hypothesis = _simplest(a, b, hypothesis, score)
    return _decide(a, b, hypothesis, thresholds, inverted=inverted, content=content)


EXACT_TOLERANCE = 1  # grey levels: rounding; a JPEG copy of a low-structure image differs more


def _exact_only(
    stored: Descriptor, query: Descriptor, content: float, *, inverted: bool
) -> Verdict:
    """A grid with too little structure to identify: the same grid (as it stands, to within
    ``EXACT_TOLERANCE``: a lossless re-export) or no match; never a near match."""
    q = query.array.astype(np.int16)
    diff = np.abs(stored.array.astype(np.int16) - (255 - q if inverted else q))
    if int(diff.max()) <= EXACT_TOLERANCE:
        alignment = Alignment(0, (0.5, 0.5), (1.0, 1.0), 0.0, 1.0, inverted)
        return Verdict(True, 1.0, 0.0, 1.0, alignment, "same grid", {"content": content})
    reason = f"too little structure for a near match (content {content:.2f} < {MIN_CONTENT})"
    return Verdict(False, 0.0, 1.0, 0.0, None, reason, {"content": content})


# --- the search ----------------------------------------------------------------------------

# a hypothesis: (variant, cy, cx, sy, sx, degrees, log aspect)
Hypothesis = tuple[int, float, float, float, float, float, float]
_STEPS = (0.02, 0.02, 0.03, 0.03, 1.5, 0.06)
_LOW = np.asarray([-1.0, -1.0, 0.65, 0.65, -10.0, -0.5])
_HIGH = np.asarray([2.0, 2.0, 1.55, 1.55, 10.0, 0.5])


def _coarse_hypotheses() -> list[tuple[float, ...]]:
    out: list[tuple[float, ...]] = []
    for sy in _SCALES:
        for sx in _SCALES:
            for cy in _offsets(sy):
                for cx in _offsets(sx):
                    out.append((cy, cx, sy, sx, 0.0, 0.0))
    for angle in _COARSE_ANGLES:
        for s in _SCALES:
            for aspect in _COARSE_ASPECTS:
                out.append((0.5, 0.5, s, s, angle, aspect))
    return out


def _offsets(scale: float) -> list[float]:
    room = abs(scale - 1.0) / 2.0
    steps = math.floor(room / _STEP + 1e-9)
    return [0.5 + k * _STEP for k in range(-steps, steps + 1)]


_COARSE = np.asarray(_coarse_hypotheses(), dtype=np.float64)


def _small(grid: Floats) -> Floats:
    f = GRID // COARSE
    return np.asarray(grid.reshape(COARSE, f, COARSE, f).mean(axis=(1, 3)), dtype=np.float64)


def _search(
    a: Floats, b: Floats, variants: tuple[int, ...], *, floor: float = -1.0
) -> tuple[float, Hypothesis]:
    """The best alignment over ``variants``: coarse hypotheses at 16 x 16, the best few refined
    at 32 x 32 (only those whose coarse correlation exceeds ``floor``)."""
    a_small = _small(a)
    scored: list[tuple[float, int, Floats]] = []
    for variant in variants:
        bv = _small(dihedral(b, variant))
        r = _correlations(a_small, bv, _COARSE, margin=0.0)
        for i in np.argsort(-r)[:2]:
            scored.append((float(r[i]), variant, _COARSE[i]))
    scored.sort(key=lambda item: -item[0])
    if scored[0][0] < max(_HOPELESS, floor):  # nothing lines up well enough to refine
        score, variant, start = scored[0]
        return (score if floor <= -1.0 else -1.0), _hypothesis(variant, start)
    starts = [(v, start) for r, v, start in scored[:_REFINED] if r >= floor]
    refined = [_refine(a, b, variant, start) for variant, start in starts]
    return max(refined, key=lambda item: item[0])


_PARSIMONY = 0.003  # correlation a simpler alignment may lose and still be preferred


def _simplest(a: Floats, b: Floats, hyp: Hypothesis, score: float) -> Hypothesis:
    """The simplest alignment that explains the pair as well as ``hyp`` does (within
    ``_PARSIMONY``): no turn, no scale, neither; so that a gamma change is not described
    as a turn of a degree, nor a crop as a crop plus a turn the search drifted to."""
    variant, cy, cx, sy, sx, deg, aspect = hyp
    simpler = [
        (cy, cx, sy, sx, 0.0, 0.0),  # no turn
        (0.5, 0.5, 1.0, 1.0, deg, aspect),  # no scale or shift
        (0.5, 0.5, 1.0, 1.0, 0.0, 0.0),  # neither
    ]
    if score <= -1.0:
        return hyp
    r = _correlations(a, dihedral(b, variant), np.asarray(simpler, dtype=np.float64))
    best = hyp
    for values, value in zip(simpler, r.tolist(), strict=True):
        if value >= score - _PARSIMONY:
            best = _hypothesis(variant, np.asarray(values))
    return best


def _hypothesis(variant: int, values: Floats) -> Hypothesis:
    cy, cx, sy, sx, deg, aspect = (float(v) for v in values)
    return (variant, cy, cx, sy, sx, deg, aspect)


def _refine(a: Floats, b: Floats, variant: int, start: Floats) -> tuple[float, Hypothesis]:
    """Pattern search from ``start``: each parameter a step either way, steps halved."""
    bv = dihedral(b, variant)
    current = np.asarray(start, dtype=np.float64)
    steps = np.asarray(_STEPS)
    score = float(_correlations(a, bv, current[np.newaxis])[0])
    moves = np.concatenate([np.diag(steps), -np.diag(steps)])
    for _ in range(3):
        for _ in range(3):
            trial = np.clip(current + moves, _LOW, _HIGH)
            r = _correlations(a, bv, trial)
            i = int(np.argmax(r))
            if r[i] <= score:
                break
            score, current = float(r[i]), trial[i]
        moves = moves / 2.0
    return score, _hypothesis(variant, current)


def _correlations(a: Floats, bv: Floats, hyps: Floats, *, margin: float = 1.0) -> Floats:
    """Pearson correlation of ``a`` with ``bv`` sampled at each hypothesis (valid part only)."""
    n = a.shape[0]
    if hyps is _COARSE and margin == 0.0 and n == COARSE and bv.shape == (COARSE, COARSE):
        plan = _coarse_plan()
        samples, inside = _apply(bv, plan), plan.inside
    else:
        samples, inside = _sample(bv, hyps, n, margin=margin)
    m = inside.astype(np.float64)
    count = m.sum(axis=(1, 2))
    ok = count >= _MIN_COVER * n * n
    safe = np.maximum(count, 1.0)
    mean_a = (a[np.newaxis] * m).sum(axis=(1, 2)) / safe
    mean_s = (samples * m).sum(axis=(1, 2)) / safe
    da = (a[np.newaxis] - mean_a[:, None, None]) * m
    ds = (samples - mean_s[:, None, None]) * m
    num = (da * ds).sum(axis=(1, 2))
    den = np.sqrt((da * da).sum(axis=(1, 2)) * (ds * ds).sum(axis=(1, 2)))
    r = np.where(den > 1e-9, num / np.maximum(den, 1e-12), 0.0)
    return np.asarray(np.where(ok, r, -1.0), dtype=np.float64)


_T_CACHE: dict[int, Floats] = {}


@dataclass(frozen=True, eq=False)
class _SamplePlan:
    """Where the samples of some hypotheses fall in a query grid of one shape: each sample's
    top-left neighbour (flat index), its bilinear weights, and whether it is usable."""

    corner: npt.NDArray[np.intp]
    fx: Floats
    fy: Floats
    inside: npt.NDArray[np.bool_]
    width: int


def _sample(
    bv: Floats, hyps: Floats, n: int, *, margin: float = 0.0
) -> tuple[Floats, npt.NDArray[np.bool_]]:
    """Bilinear samples (k, n, n) of ``bv`` at the stored grid's pixels mapped by each
    hypothesis, and which of them are usable: inside the query, at least ``margin`` pixels
    (of an ``n`` grid) from its edge, and not within ``margin`` of the stored grid's edge.

    A hypothesis maps the stored grid's offset (ty, tx) from its centre (fractions, -0.5..0.5)
    to ``centre + diag(sy, sx) @ R @ (ty, tx)`` in the query, where ``R`` turns by ``degrees``
    in a frame of aspect ``exp(log aspect)`` (a turn of a non-square image, once both are
    squeezed to a square grid, is a turn plus a shear).
    """
    plan = _plan(bv.shape, hyps, n, margin=margin)
    return _apply(bv, plan), plan.inside


def _plan(shape: tuple[int, ...], hyps: Floats, n: int, *, margin: float) -> _SamplePlan:
    h, w = shape
    t = _T_CACHE.get(n)
    if t is None:
        t = _T_CACHE.setdefault(n, (np.arange(n, dtype=np.float64) + 0.5) / n - 0.5)
    ty, tx = t[np.newaxis, :, np.newaxis], t[np.newaxis, np.newaxis, :]
    cy, cx, sy, sx = (hyps[:, i][:, np.newaxis, np.newaxis] for i in range(4))
    theta = np.radians(hyps[:, 4])[:, np.newaxis, np.newaxis]
    rho = np.exp(hyps[:, 5])[:, np.newaxis, np.newaxis]
    cos, sin = np.cos(theta), np.sin(theta)
    py = (cy + sy * (cos * ty - sin * rho * tx)) * h - 0.5
    px = (cx + sx * (sin / rho * ty + cos * tx)) * w - 0.5
    edge = margin * h / n
    inside = (
        (py >= edge - 0.5) & (py <= h - 0.5 - edge) & (px >= edge - 0.5) & (px <= w - 0.5 - edge)
    )
    if margin > 0.0:
        k = math.ceil(margin)
        border = np.ones((n, n), dtype=np.bool_)
        border[k:-k, k:-k] = False
        inside &= ~border[np.newaxis]
    py = np.clip(py, 0.0, h - 1.0)
    px = np.clip(px, 0.0, w - 1.0)
    y0 = np.minimum(py.astype(np.intp), h - 2)
    x0 = np.minimum(px.astype(np.intp), w - 2)
    return _SamplePlan(y0 * w + x0, px - x0, py - y0, inside, w)


def _apply(bv: Floats, plan: _SamplePlan) -> Floats:
    flat, i00, fx, fy, w = bv.reshape(-1), plan.corner, plan.fx, plan.fy, plan.width
    top = flat[i00] * (1 - fx) + flat[i00 + 1] * fx
    bottom = flat[i00 + w] * (1 - fx) + flat[i00 + w + 1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, dtype=np.float64)


@cache
def _coarse_plan() -> _SamplePlan:
    """The coarse hypotheses' plan: the same for every pair, so made once."""
    plan = _plan((COARSE, COARSE), _COARSE, COARSE, margin=0.0)
    for array in (plan.corner, plan.fx, plan.fy, plan.inside):
        array.setflags(write=False)
    return plan


# --- the decision ----------------------------------------------------------------------------


def _ranks(values: Floats) -> Floats:
    """Ranks with ties averaged, scaled to 0..1."""
    flat = values.reshape(-1)
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mid = (ends - (counts - 1) / 2.0 - 1.0) / max(len(flat) - 1, 1)
    return np.asarray(mid[inverse].reshape(values.shape), dtype=np.float64)


# Stricter acceptance where the alignment search had room to make unrelated images look alike
# (docs/similarity.md, "Precision"). An alignment that keeps less than FAR_OVERLAP of the
# boxes must reach FAR_CORRELATION and FAR_WORST_BLOCK; a grid whose content score is under
# FULL_CONTENT matches only without a large crop (NEAR_OVERLAP) and with near-perfect scores.
FAR_OVERLAP = 0.70
FAR_CORRELATION = 0.97
FAR_WORST_BLOCK = 0.045
NEAR_OVERLAP = 0.80
LOW_CONTENT_CORRELATION = 0.98
LOW_CONTENT_WORST_BLOCK = 0.030


def _decide(
    a: Floats,
    b: Floats,
    hyp: Hypothesis,
    thresholds: Thresholds,
    *,
    inverted: bool,
    content: float = 1.0,
) -> Verdict:
    variant, cy, cx, sy, sx, deg, aspect = hyp
    bv = dihedral(b, variant)
    h = np.asarray([hyp[1:]], dtype=np.float64)
    samples, inside = _sample(bv, h, GRID, margin=MARGIN)
    s, m = samples[0], inside[0]
    if m.sum() < _MIN_COVER * GRID * GRID:
        return Verdict(False, 0.0, 1.0, 0.0, None, "no alignment covers enough of the image")
    av, sv = a[m], s[m]
    pearson = _pearson(av, sv)
    spearman = _pearson(_ranks(av), _ranks(np.round(sv, 6)))
    correlation = max(pearson, spearman)
    worst = _two_way_worst_block(a, s, m)
    overlap = _overlap(sy, sx, cy, cx)
    alignment = Alignment(variant, (cy, cx), (sy, sx), deg, math.exp(aspect), inverted)
    scores = {"pearson": pearson, "spearman": spearman, "content": content}
    failed = []
    if correlation < thresholds.min_correlation:
        failed.append(f"correlation {correlation:.3f} < {thresholds.min_correlation}")
    if correlation >= thresholds.min_correlation and spearman < thresholds.min_correlation:
        # a grey-level map is monotone, so the ranks agree too; a high Pearson correlation
        # that the ranks do not share comes from one step between two regions
        failed.append(f"rank correlation {spearman:.3f} < {thresholds.min_correlation}")
    local = worst_local_correlation(a, s, m)
    scores["local"] = local
    if worst > thresholds.max_worst_block:
        failed.append(f"worst block {worst:.3f} > {thresholds.max_worst_block}")
    if overlap < thresholds.min_overlap:
        failed.append(f"overlap {overlap:.2f} < {thresholds.min_overlap}")
    if worst > GUARD_WORST_BLOCK and local < LOCAL_GUARD:
        failed.append(f"local correlation {local:.2f} < {LOCAL_GUARD} at worst block {worst:.3f}")
    if not failed:
        failed = _strict_failures(correlation, worst, overlap, content, local)
    if not failed and content < UPRIGHT_CONTENT and variant != 0:
        # the band v4 opened (MIN_CONTENT..0.30) matches only upright copies: a dark corner of a
        # fundus photo turned by 90 or 180 degrees looks like another corner
        failed.append(f"{alignment.transform} at content {content:.2f} < {UPRIGHT_CONTENT}")
    reason = "near-duplicate" if not failed else "different: " + "; ".join(failed)
    return Verdict(not failed, correlation, worst, overlap, alignment, reason, scores)


# A pair whose residual is near the threshold (above GUARD_WORST_BLOCK) must not hold a block
# that has structure in both grids and disagrees (local correlation under LOCAL_GUARD): two
# different textures on one layout, a moved structure (docs/similarity.md, "Local agreement").
GUARD_WORST_BLOCK = 0.045
LOCAL_GUARD = 0.30
# A grid with little structure (content under FULL_CONTENT) needs every structured block to
# agree closely: its near-identical acceptance reaches down to MIN_CONTENT 0.26 since v4.
LOW_CONTENT_LOCAL = 0.80
UPRIGHT_CONTENT = 0.30  # under it (down to MIN_CONTENT) only the identity variant matches


def _strict_failures(
    correlation: float, worst: float, overlap: float, content: float, local: float
) -> list[str]:
    """What a pair that passed the thresholds still fails of the stricter acceptance."""
    failed = []
    if overlap < FAR_OVERLAP:
        if correlation < FAR_CORRELATION:
            failed.append(f"correlation {correlation:.3f} < {FAR_CORRELATION} at this crop")
        if worst > FAR_WORST_BLOCK:
            failed.append(f"worst block {worst:.3f} > {FAR_WORST_BLOCK} at this crop")
    if content < FULL_CONTENT:
        low = f"at content {content:.2f}"
        if local < LOW_CONTENT_LOCAL:
            failed.append(f"local correlation {local:.2f} < {LOW_CONTENT_LOCAL} {low}")
        if overlap < NEAR_OVERLAP:
            failed.append(f"overlap {overlap:.2f} < {NEAR_OVERLAP} {low}")
        if correlation < LOW_CONTENT_CORRELATION:
            failed.append(f"correlation {correlation:.3f} < {LOW_CONTENT_CORRELATION} {low}")
        if worst > LOW_CONTENT_WORST_BLOCK:
            failed.append(f"worst block {worst:.3f} > {LOW_CONTENT_WORST_BLOCK} {low}")
    return failed


def _pearson(x: Floats, y: Floats) -> float:
    dx, dy = x - x.mean(), y - y.mean()
    den = math.sqrt(float((dx * dx).sum()) * float((dy * dy).sum()))
    return float((dx * dy).sum()) / den if den > 1e-9 else 0.0


def _monotone_fit(a: Floats, s: Floats) -> Floats:
    """The least-squares non-decreasing function of ``s`` closest to ``a`` (isotonic
    regression, pool-adjacent-violators): any monotone grey-level map (gamma, a window,
    equalisation, a LUT) costs nothing, a moved structure does."""
    order = np.lexsort((a, s))
    values: list[float] = []
    weights: list[int] = []
    for v in a[order].tolist():
        value, weight = v, 1
        while values and values[-1] > value:
            w = weights.pop()
            value = (values.pop() * w + value * weight) / (w + weight)
            weight += w
        values.append(value)
        weights.append(weight)
    fitted = np.empty_like(a)
    fitted[order] = np.repeat(np.asarray(values), np.asarray(weights))
    return fitted


def _two_way_worst_block(a: Floats, s: Floats, m: npt.NDArray[np.bool_]) -> float:
    """The worst block of the better of the two grey-level maps: the query's levels mapped
    onto the stored grid's, or the stored grid's onto the query's.

    Which image is the copy is not known, and a copy is a monotone function of its
    original but not the reverse once levels were merged (clipped by a window,
    equalised, reduced in bit depth, gamma near black): there the map only fits one way.
    A moved structure leaves its residual in both."""
    av, sv = a[m], s[m]
    forward = np.zeros_like(a)
    forward[m] = _monotone_fit(av, sv)
    backward = np.zeros_like(s)
    backward[m] = _monotone_fit(sv, av)
    return min(_worst_block(a, forward, m), _worst_block(s, backward, m))


def _worst_block(a: Floats, fitted: Floats, m: npt.NDArray[np.bool_]) -> float:
    """Largest mean squared residual ``a - fitted`` of a block, relative to ``a``'s variance."""
    var = float(a[m].var())
    if var <= 1e-9:
        return 1.0
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
