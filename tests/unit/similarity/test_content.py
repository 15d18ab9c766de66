"""The content score: grids with too little structure are matched only exactly, never near;
images with structure (phantoms, their grey-level maps) keep matching."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from ledger.fingerprint.content import FULL_CONTENT, MIN_CONTENT, content_score
from ledger.fingerprint.descriptor import describe
from ledger.similarity.verification import verify

from .phantoms import phantom


def _grid_score(image: np.ndarray) -> float:
    return content_score(describe(image).array.astype(np.float64))


def _edge(angle: float, offset: float, size: int = 128) -> np.ndarray:
    """One soft edge across the frame: a bright half-plane against a dark one."""
    y, x = np.mgrid[0:size, 0:size] / size - 0.5
    side = y * np.sin(angle) + x * np.cos(angle) > offset
    image = np.where(side, 180.0, 40.0)
    soft = Image.fromarray(image.astype(np.uint8)).filter(ImageFilter.GaussianBlur(3))
    return np.asarray(soft, dtype=np.float64)


def _half_textured(seed: int, angle: float, size: int = 256) -> np.ndarray:
    """A faint texture on one side of a line, black on the other: the issue's false links."""
    rng = np.random.default_rng(seed)
    texture = Image.fromarray(rng.uniform(0, 255, (size, size)).astype(np.uint8))
    smooth = np.asarray(texture.filter(ImageFilter.GaussianBlur(6)), dtype=np.float64)
    textured = 150.0 + (smooth - smooth.mean()) * 3.0
    y, x = np.mgrid[0:size, 0:size] / size - 0.5
    return np.clip(np.where(y * np.sin(angle) + x * np.cos(angle) > 0.0, textured, 0.0), 0, 255)


@pytest.mark.parametrize(
    "image",
    [np.full((64, 64), 120.0), 120.0 + np.random.default_rng(1).normal(0, 0.4, (64, 64))],
    ids=["flat", "nearly-flat"],
)
def test_flat_images_score_below_the_exact_only_bar(image: np.ndarray) -> None:
    assert _grid_score(image) < MIN_CONTENT


@pytest.mark.parametrize("edge", [(0.3, 0.1), (2.0, -0.15), (1.0, 0.0)])
def test_edge_only_images_score_below_the_full_content_bar(edge: tuple[float, float]) -> None:
    assert _grid_score(_edge(*edge)) < FULL_CONTENT


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_phantoms_score_above_the_bar_whatever_their_grey_levels(seed: int) -> None:
    original = phantom(seed, size=256)
    for image in (original, 255.0 * (original / 255.0) ** 1.6, 100.0 + original * 0.1):
        assert _grid_score(image) >= MIN_CONTENT, seed


@pytest.mark.parametrize("other", [(0.8, 0.0), (1.2, 0.1), (2.4, 0.0)])
def test_an_edge_image_is_refused_a_near_match_and_says_why(other: tuple[float, float]) -> None:
    # another edge: a crop, a flip and a grey-level fit make it correlate at 0.999, and
    # before the content score these pairs were near-duplicates
    verdict = verify(describe(_edge(0.3, 0.1)), describe(_edge(*other) * 0.9 + 10))
    assert not verdict.matched, verdict.explain()
    assert "content" in verdict.reason, verdict.reason


def test_an_image_below_the_bar_is_matched_only_exactly() -> None:
    image = _edge(0.3, 0.35)  # an edge near the frame: structure in a few cells
    assert _grid_score(image) < MIN_CONTENT
    verdict = verify(describe(image), describe(np.clip(image + 4.0, 0, 255)))
    assert not verdict.matched
    assert verdict.reason.startswith("too little structure for a near match (content ")
    assert verdict.explain() == verdict.reason


def test_an_image_below_the_bar_still_matches_its_exact_copy() -> None:
    image = _edge(0.3, 0.35)
    verdict = verify(describe(image), describe(image.copy()))
    assert verdict.matched and verdict.reason == "same grid"
    assert verdict.alignment is not None and verdict.alignment.transform == "identity"


def test_two_unrelated_low_texture_tiles_are_not_linked() -> None:
    a, b = _half_textured(1, 0.4), _half_textured(2, 0.5)
    for stored, query in ((a, b), (b, a), (a, np.ascontiguousarray(b[:, ::-1]))):
        verdict = verify(describe(stored), describe(query))
        assert not verdict.matched, verdict.explain()
