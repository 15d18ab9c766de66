"""Grey-level invariance of the verification (issue 21): equalised and CLAHE copies of real
images verify; neighbouring slices, retina edge tiles and a chain's A and C do not."""

from __future__ import annotations

import sys
import warnings
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
import skimage.data
from PIL import Image
from pydicom.data import get_testdata_file

from ledger.fingerprint.content import FULL_CONTENT, content_score
from ledger.fingerprint.descriptor import Descriptor, describe
from ledger.imaging.decode import decode
from ledger.imaging.limits import DecodeLimits
from ledger.imaging.render import thumbnail
from ledger.similarity.localagreement import worst_local_correlation
from ledger.similarity.verification import verify

_TESTS = str(Path(__file__).resolve().parents[2])  # tests/, as pytest puts it for integration/
if _TESTS not in sys.path:
    sys.path.append(_TESTS)
from integration.duplicates.chains import chain, grey8  # noqa: E402


def _thumb(image: np.ndarray) -> Descriptor:
    """As registration sees a file: area-averaged to the 64 x 64 thumbnail, then described."""
    grey = Image.fromarray(np.asarray(np.clip(np.rint(image), 0, 255), dtype=np.uint8))
    return describe(np.asarray(grey.resize((64, 64), Image.Resampling.BOX), dtype=np.float64))


def _rendered(name: str) -> np.ndarray:
    """A pydicom test file's first frame, min-max scaled to 8 bits (its canonical rendering)."""
    found = get_testdata_file(name)
    assert found is not None, name
    pixels = pydicom.dcmread(found).pixel_array.astype(np.float64)
    if pixels.ndim == 3:
        pixels = pixels[0]
    span = float(pixels.max() - pixels.min()) or 1.0
    return np.asarray((pixels - pixels.min()) / span * 255.0, dtype=np.uint8)


def _equalised(image: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.equalizeHist(image))


def _clahe(image: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(image))


@pytest.mark.parametrize(
    ("name", "make"), [("CT_small.dcm", _equalised), ("693_J2KR.dcm", _clahe)], ids=["eq", "clahe"]
)
def test_equalised_and_clahe_copies_of_real_images_verify_both_ways(name, make):
    # copies the verification finds today (many others it does not: docs/similarity.md,
    # "Local agreement"); a change that loses these loses grey-level invariance
    original = _rendered(name)
    a, b = _thumb(original), _thumb(make(original))
    for stored, query in ((a, b), (b, a)):
        verdict = verify(stored, query)
        assert verdict.matched, (name, verdict.explain())
        assert verdict.alignment is not None and verdict.alignment.transform == "identity"
        assert verdict.explain().startswith("near-duplicate: identity")


@pytest.fixture(scope="module")
def mr_slices() -> list[np.ndarray]:
    found = get_testdata_file("emri_small.dcm")
    assert found is not None
    frames = pydicom.dcmread(found).pixel_array.astype(np.float64)
    span = float(frames.max() - frames.min())
    return [np.asarray((f - frames.min()) / span * 255.0, dtype=np.uint8) for f in frames]


def test_neighbouring_mr_slices_do_not_verify_even_equalised(mr_slices):
    # the copies' grey-level freedom must not reach the next slice: plain, and with one of
    # the two equalised (the equalised next slice is what an equalised copy competes with)
    for i in range(len(mr_slices) - 1):
        for left, right in (
            (mr_slices[i], mr_slices[i + 1]),
            (mr_slices[i], _equalised(mr_slices[i + 1])),
        ):
            verdict = verify(_thumb(left), _thumb(right))
            assert not verdict.matched, (i, verdict.explain())


@cache
def _retina() -> np.ndarray:
    return np.asarray(skimage.data.retina(), dtype=np.float64)[..., :3].mean(axis=-1)


def _retina_tile(y: int, x: int, side: int = 256) -> np.ndarray:
    return _retina()[y : y + side, x : x + side]


@pytest.mark.parametrize(
    ("first", "second"), [((0, 256), (256, 0)), ((256, 0), (1024, 0)), ((0, 256), (1024, 0))]
)
def test_dark_retina_edge_tiles_do_not_verify(first, second):
    # tiles of a fundus photograph's dark rim, as bench/composition.py cuts them: a smooth
    # edge of the disc against black, which a turn and a scale make look alike
    verdict = verify(_thumb(_retina_tile(*first)), _thumb(_retina_tile(*second)))
    assert not verdict.matched, verdict.explain()


@pytest.mark.parametrize("k", range(8))
def test_a_chain_s_a_and_c_do_not_verify(k):
    # one layout with two independent textures (tests/integration/duplicates/chains.py, as
    # bench/composition.py builds them): each verifies with the bare layout B at most
    parts = chain(phase=k / 8, seeds=(5 + 2 * k, 6 + 2 * k))
    a, c = _thumb(grey8(parts["a"])), _thumb(grey8(parts["c"]))
    assert not verify(a, c).matched, verify(a, c).explain()
    assert not verify(c, a).matched, verify(c, a).explain()


def test_local_correlation_ignores_flat_blocks_and_any_increasing_map():
    rng = np.random.default_rng(8)
    a = np.zeros((32, 32))
    a[:, 16:] = np.linspace(0, 200, 32)[:, None]  # structure on the right half only
    usable = np.ones_like(a, dtype=bool)
    # a steep monotone map, and independent noise in the flat half (which correlates with
    # nothing, so a score that counted flat blocks would be near 0)
    warped = 255.0 * (a / 255.0) ** 0.5 + rng.normal(0, 0.2, a.shape)
    assert worst_local_correlation(a + rng.normal(0, 0.2, a.shape), warped, usable) > 0.95
    moved = a.copy()
    moved[8:16, 16:24] = moved[8:16, 16:24][::-1]  # one block's structure reversed
    assert worst_local_correlation(a, moved, usable) < -0.9


def _registered(image: np.ndarray, folder: Path, name: str) -> Descriptor:
    """As registration describes a PNG: decoded, its canonical 64 x 64 thumbnail, described."""
    path = folder / f"{name}.png"
    Image.fromarray(np.asarray(np.clip(np.rint(image), 0, 255), dtype=np.uint8)).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PIL's decompression-bomb notes are not the test
        return describe(thumbnail(decode(path, limits=DecodeLimits()), size=64))


@pytest.mark.parametrize(
    ("picture", "make"),
    [
        ("clock", lambda a: a[15:-15, 20:-20]),  # a 90% crop
        ("brick", lambda a: 255.0 * (a / 255.0) ** 0.8),  # gamma 0.8
    ],
)
def test_copies_of_low_content_pictures_still_verify(picture, make, tmp_path):
    # content 0.27 (between the exact-only bar 0.25 and full content 0.45): near-identical
    # copies are matched, as bench/composition.py's Frankenstein dataset needs
    pixels = np.asarray(getattr(skimage.data, picture)(), dtype=np.float64)
    a = _registered(pixels, tmp_path, "original")
    b = _registered(make(pixels), tmp_path, "copy")
    assert content_score(a.array.astype(np.float64)) < FULL_CONTENT
    verdict = verify(a, b)
    assert verdict.matched, verdict.explain()
    assert verdict.scores["local"] >= 0.8


@pytest.mark.parametrize(("first", "second"), [((0, 0), (2, 2)), ((0, 2), (2, 2))])
def test_dark_corner_tiles_of_a_fundus_photo_do_not_verify_turned(first, second, tmp_path):
    # bench/duplicates.py's 3 x 3 tiles of retina.jpg: its corners (the disc's rim against
    # black, content 0.28) matched each other turned by 90 or 180 degrees at content bar 0.26
    pixels = _retina()
    side = min(pixels.shape) // 3
    tiles = [
        _registered(
            pixels[y * side : (y + 1) * side, x * side : (x + 1) * side], tmp_path, f"{y}{x}"
        )
        for y, x in (first, second)
    ]
    for stored, query in ((tiles[0], tiles[1]), (tiles[1], tiles[0])):
        verdict = verify(stored, query)
        assert not verdict.matched, verdict.explain()
