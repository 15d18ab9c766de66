"""The DWT-DCT decoder against the real invisible-watermark package as the oracle.

The package's own ``imwatermark/maxDct.py`` (the dwtDct method) embeds the marks; it is
loaded from its file because the package's ``__init__`` imports torch (for rivaGan), which
is not installed: scripts/test.sh installs the package with --no-deps, OpenCV comes with the
dev extra. The pictures are scikit-image's public test images.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image
from skimage import data

from ledger.forensics import watermark
from ledger.forensics.signal import Level

from .samples import named, screened


@pytest.fixture(scope="module")
def oracle() -> ModuleType:
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("invisible-watermark is not installed (scripts/test.sh installs it)")
    path = Path(spec.submodule_search_locations[0]) / "maxDct.py"
    loaded = importlib.util.spec_from_file_location("imwatermark_maxdct_oracle", path)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def small(name: str) -> np.ndarray:
    """A 256 x 320 corner of a scikit-image picture (the package needs 256 x 256 or more)."""
    picture: np.ndarray = getattr(data, name)()
    return np.ascontiguousarray(picture[:256, :320])


def embed(oracle: ModuleType, rgb: np.ndarray, bits: tuple[int, ...]) -> np.ndarray:
    """What the generators do: RGB -> BGR, encode with dwtDct, back to RGB."""
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    marked = oracle.EmbedMaxDct(list(bits), wmLen=len(bits)).encode(bgr)
    return np.ascontiguousarray(marked[:, :, ::-1])


def save(path: Path, rgb: np.ndarray, **params: int) -> Path:
    Image.fromarray(rgb).save(path, **params)
    return path


@pytest.mark.parametrize("payload", list(watermark.PAYLOADS))
def test_the_published_marks_are_found_in_png(
    oracle: ModuleType, tmp_path: Path, payload: str
) -> None:
    bits = watermark.PAYLOADS[payload]
    path = save(tmp_path / "marked.png", embed(oracle, small("astronaut"), bits))
    [signal] = named(screened(path), "watermark.dwtdct")
    assert signal.level == Level.HIGH
    assert payload in signal.evidence
    assert signal.score >= 41 / 48


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_decoded_bits_match_at_least_as_well_as_the_oracle_decoder(
    oracle: ModuleType, name: str
) -> None:
    bits = np.array(watermark.PAYLOADS["SDXL (48-bit mark)"], dtype=np.uint8)
    marked = embed(oracle, small(name), tuple(bits))
    theirs = oracle.EmbedMaxDct([], wmLen=48).decode(np.ascontiguousarray(marked[:, :, ::-1]))
    ours = watermark.majority_bits(watermark.block_bits(watermark.u_channel(marked)), 48)
    their_matches = int(np.sum(np.asarray(theirs, dtype=np.uint8) == bits))
    our_matches = int(np.sum(ours == bits))
    assert their_matches >= 41  # the oracle reads its own mark
    assert our_matches >= their_matches


def test_an_arbitrary_mark_is_not_mistaken_for_a_published_one(
    oracle: ModuleType, tmp_path: Path
) -> None:
    other = tuple(int(b) for b in np.random.default_rng(5).integers(0, 2, 48))
    path = save(tmp_path / "other.png", embed(oracle, small("astronaut"), other))
    assert not named(screened(path), "watermark.dwtdct")


def test_jpeg_q70_greyscale_and_crop_erase_the_mark(oracle: ModuleType, tmp_path: Path) -> None:
    bits = watermark.PAYLOADS["SDXL (48-bit mark)"]
    marked = embed(oracle, small("astronaut"), bits)
    jpeg = save(tmp_path / "q70.jpg", marked, quality=70)
    grey = tmp_path / "grey.png"
    Image.fromarray(marked).convert("L").save(grey)
    crop = save(tmp_path / "crop.png", np.ascontiguousarray(marked[3:, 5:]))
    for path in (jpeg, grey, crop):
        assert not named(screened(path), "watermark.dwtdct"), path.name


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
def test_clean_photos_carry_no_mark(tmp_path: Path, name: str) -> None:
    path = save(tmp_path / f"{name}.png", getattr(data, name)())
    assert not named(screened(path), "watermark.dwtdct")
