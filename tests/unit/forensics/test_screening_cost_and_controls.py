"""Issue 22's precision and cost changes: a linear re-window is not a contrast signal, the
crops are shared between the pixel modules, and registration defers the pixel statistics
on images too small for their fixed cost (and says so in the entry)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ledger.forensics import contrast, pixelview, resampling
from ledger.forensics.screen import (
    ADVISORY_MODULE_NAMES,
    REGISTRATION_PIXEL_SAMPLES,
    advisory,
    screen_at_registration,
    screen_decoded,
)
from ledger.forensics.signal import Level, Sample
from ledger.imaging.decode import decode
from ledger.imaging.limits import DecodeLimits
from ledger.model.screening import ScreeningRecord


def textured(side: int, seed: int) -> np.ndarray:
    """Smooth random texture with sensor-like noise, every grey level in 40..200 present."""
    rng = np.random.default_rng(seed)
    low = rng.normal(0, 1, (side // 16 + 2, side // 16 + 2))
    field = np.kron(low, np.ones((16, 16)))[:side, :side]
    field = (field - field.mean()) / field.std() * 25 + 120
    return np.clip(np.rint(field + rng.normal(0, 4, field.shape)), 0, 255).astype(np.uint8)


def decoded_png(tmp: Path, name: str, pixels: np.ndarray):  # type: ignore[no-untyped-def]
    path = tmp / name
    Image.fromarray(pixels).save(path)
    return decode(path, limits=DecodeLimits())


@pytest.fixture(scope="module")
def source() -> np.ndarray:
    return textured(256, seed=11)


def _contrast(pixels: np.ndarray) -> tuple[float, str]:
    sample = Sample(name="x", data=b"", format="png", pixels=pixels[None, ..., None],
                    bits_stored=8)
    found = contrast.detect(sample)
    assert len(found) == 1
    return found[0].score, found[0].evidence


@pytest.mark.parametrize("slope", [1.4, 2.3])
def test_a_linear_rewindow_is_undone_before_the_histogram_is_read(
    source: np.ndarray, slope: float
) -> None:
    rewindowed = np.clip((source.astype(np.float64) - 70) * slope + 0.5, 0, 255).astype(np.uint8)
    histogram = np.bincount(rewindowed.ravel(), minlength=256)
    assert np.count_nonzero(histogram[1:-1] == 0) > 20  # the stretch left gaps
    assert contrast.linear_slope(histogram.astype(np.float64)) == pytest.approx(slope, abs=0.05)
    original, _ = _contrast(source)
    score, evidence = _contrast(rewindowed)
    assert "linear stretch" in evidence
    assert score == pytest.approx(original, abs=0.03)


def test_a_non_linear_mapping_fits_no_lattice_and_scores_above_the_rewindow(
    source: np.ndarray,
) -> None:
    x = np.clip((source.astype(np.float64) - 70) / 110, 0, 1)
    gamma = np.rint(255 * x**0.5).astype(np.uint8)
    linear = np.rint(255 * x).astype(np.uint8)
    assert contrast.linear_slope(np.bincount(gamma.ravel(), minlength=256).astype(float)) == 0
    gamma_score, evidence = _contrast(gamma)
    linear_score, _ = _contrast(linear)
    assert "linear stretch" not in evidence
    assert gamma_score > linear_score + 0.05


def test_spread_is_numpys_percentile_range() -> None:
    rng = np.random.default_rng(5)
    for shape in [(256, 256), (7, 3), (1, 1), (40, 128)]:
        a = rng.normal(0, 20, shape).astype(np.float32)
        expected = float(np.subtract(*np.percentile(a.astype(np.float64), [99, 1])))
        assert pixelview.spread(a) == pytest.approx(expected, rel=1e-5, abs=1e-4)


def test_the_crop_is_computed_once_per_sample_and_is_read_only(source: np.ndarray) -> None:
    pixels = source[None, ..., None]
    sample = Sample(name="x", data=b"", format="png", pixels=pixels, bits_stored=8)
    first = pixelview.view(sample, 128)
    assert first is not None and first is pixelview.view(sample, 128)
    assert not first.grey.flags.writeable
    other = Sample(name="x", data=b"", format="png", pixels=pixels, bits_stored=8)
    assert pixelview.view(other, 128) is not first  # per sample, never across samples


def test_registration_defers_the_pixel_statistics_of_a_small_image_and_says_so(
    tmp_path: Path, source: np.ndarray
) -> None:
    decoded = decoded_png(tmp_path, "small.png", source)
    at_registration = screen_at_registration(decoded)
    assert at_registration.deferred == ADVISORY_MODULE_NAMES
    assert not any(advisory(s) for s in at_registration.signals)
    entry = at_registration.to_entry()
    assert ScreeningRecord.model_validate(entry).deferred == list(ADVISORY_MODULE_NAMES)
    inspected = screen_decoded(decoded)  # inspect runs them all
    assert inspected.deferred == () and "deferred" not in inspected.to_entry()


def test_registration_runs_every_module_on_a_large_image(tmp_path: Path) -> None:
    side = int(np.ceil(np.sqrt(REGISTRATION_PIXEL_SAMPLES)))
    big = np.kron(textured(side // 4, seed=3), np.ones((4, 4), np.uint8))  # 4x nearest
    decoded = decoded_png(tmp_path, "big.png", big)
    result = screen_at_registration(decoded)
    assert result.deferred == ()
    names = {s.name: s for s in result.signals}
    assert names["resampling.periodicity"].level >= Level.MEDIUM  # the pixel signal ran
    assert "deferred" not in result.to_entry()


def test_deferred_is_omitted_never_null() -> None:
    with pytest.raises(ValueError):
        ScreeningRecord.model_validate({"v": 2, "level": "none", "signals": [],
                                        "deferred": None})
    with pytest.raises(ValueError):
        ScreeningRecord.model_validate({"v": 2, "level": "none", "signals": [],
                                        "deferred": ["Not A Module"]})




def _cliff_and_band(pixels: np.ndarray) -> tuple[float, float]:
    grey = pixelview.crop(pixels.astype(np.float32), resampling.BAND_SIDE)
    limited, edge = resampling.band_statistics(grey)
    return edge, limited


def test_an_enlargement_by_two_of_a_smooth_image_falls_off_the_half_band_cliff() -> None:
    # A smooth base (its top band nearly empty already), enlarged by zero insertion and an
    # ideal low-pass (the FFT's zero padding), and a sharper clean image of the same size.
    rng = np.random.default_rng(21)
    low = textured(128, seed=4).astype(np.float64)
    spectrum = np.fft.fftshift(np.fft.fft2(low))
    up = np.real(np.fft.ifft2(np.fft.ifftshift(np.pad(spectrum, 64)))) * 4
    enlarged = np.clip(np.rint(up), 0, 255)
    clean = np.clip(np.rint(textured(256, seed=4) + rng.normal(0, 1.5, (256, 256))), 0, 255)
    edge, _ = _cliff_and_band(enlarged)
    clean_edge, _ = _cliff_and_band(clean)
    calibration = resampling.CLIFF["lossless"]
    assert calibration.level(edge) >= Level.MEDIUM, edge
    assert calibration.level(clean_edge) == Level.NONE, clean_edge
