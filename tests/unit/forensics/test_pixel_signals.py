"""The pixel-statistics signals on positives made here and on clean controls of the same format
and size; robustness to odd inputs; determinism."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from ledger.forensics import contrast, jpegquant, resampling, sharpening, smoothing
from ledger.forensics.signal import Level, Sample, Signal
from ledger.imaging.decode import decode
from ledger.imaging.limits import DecodeLimits

MODULES = (jpegquant, resampling, smoothing, sharpening, contrast)


def natural(side: int, seed: int) -> np.ndarray:
    """A camera-like 8-bit image: 1/f texture, a few hard-edged shapes, sensor noise."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(side)[:, None]
    fx = np.fft.rfftfreq(side)[None, :]
    amplitude = 1 / np.maximum(np.hypot(fy, fx), 1 / side) ** 1.1
    spectrum = amplitude * np.exp(2j * np.pi * rng.random(amplitude.shape))
    field = np.fft.irfft2(spectrum, s=(side, side))
    field = (field - field.mean()) / field.std() * 28 + 120
    yy, xx = np.mgrid[:side, :side]
    for _ in range(6):
        cy, cx, r = rng.integers(0, side, 2), rng.integers(0, side, 2), side // 8
        field[(yy - cy[0]) ** 2 + (xx - cx[0]) ** 2 < r * r] += rng.choice([-50.0, 50.0])
    # a camera's optics blur edges a little before the sensor adds noise
    blurred = np.asarray(
        Image.fromarray(np.clip(field, 0, 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(0.7)
        ),
        dtype=np.float64,
    )
    return np.clip(np.rint(blurred + rng.normal(0, 3.0, blurred.shape)), 0, 255).astype(np.uint8)


def encode(image: np.ndarray, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg_pixels(image: np.ndarray, quality: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(encode(image, "JPEG", quality=quality))))


def screened(tmp: Path, name: str, data: bytes) -> Sample:
    path = tmp / name
    path.write_bytes(data)
    decoded = decode(path, limits=DecodeLimits())
    return Sample(name=name, data=data, format=decoded.format, pixels=decoded.pixels,
                  bits_stored=decoded.bits_stored, dataset=decoded.dataset,
                  transfer_syntax=decoded.transfer_syntax)


def signal(sample: Sample, name: str) -> Signal:
    found = {s.name: s for m in MODULES for s in m.detect(sample)}
    assert name in found, sorted(found)
    return found[name]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pixels")


@pytest.fixture(scope="module")
def base() -> np.ndarray:
    return natural(512, seed=3)


@pytest.fixture(scope="module")
def clean_png(folder: Path, base: np.ndarray) -> Sample:
    return screened(folder, "clean.png", encode(base, "PNG"))


def test_nearest_neighbour_2x_shows_periodicity(folder: Path, clean_png: Sample) -> None:
    half = natural(256, seed=5)
    up = np.repeat(np.repeat(half, 2, axis=0), 2, axis=1)
    positive = signal(screened(folder, "nn.png", encode(up, "PNG")), resampling.NAME)
    control = signal(clean_png, resampling.NAME)
    assert positive.level >= Level.MEDIUM, positive.evidence
    assert control.level == Level.NONE, control.evidence
    assert positive.score > control.score


def test_zero_insertion_2x_shows_an_empty_top_band(folder: Path, clean_png: Sample) -> None:
    half = natural(256, seed=7).astype(np.float64)
    spectrum = np.fft.fftshift(np.fft.fft2(half))
    padded = np.pad(spectrum, 128)  # zeros inserted between samples, ideal low-pass
    up = np.real(np.fft.ifft2(np.fft.ifftshift(padded))) * 4
    image = np.clip(np.rint(up), 0, 255).astype(np.uint8)
    positive = signal(screened(folder, "zero.png", encode(image, "PNG")), resampling.NAME)
    control = signal(clean_png, resampling.NAME)
    assert positive.level >= Level.MEDIUM, positive.evidence
    assert control.level == Level.NONE, control.evidence


def test_linear_upsampling_scores_above_its_control(folder: Path, clean_png: Sample) -> None:
    half = Image.fromarray(natural(320, seed=6))
    up = np.asarray(half.resize((512, 512), Image.Resampling.BILINEAR))
    positive = signal(screened(folder, "bilinear.png", encode(up, "PNG")), resampling.NAME)
    control = signal(clean_png, resampling.NAME)
    assert positive.score > control.score, (positive.evidence, control.evidence)
    assert "period 2.6" in positive.evidence  # 1.6x: the peak at 1 - 1/1.6 cycles per pixel


def test_jpeg_resaved_at_95_after_60_shows_double_compression(
    folder: Path, base: np.ndarray
) -> None:
    twice = screened(folder, "twice.jpg", encode(jpeg_pixels(base, 60), "JPEG", quality=95))
    once = screened(folder, "once.jpg", encode(base, "JPEG", quality=95))
    positive = signal(twice, jpegquant.DOUBLE_NAME)
    control = signal(once, jpegquant.DOUBLE_NAME)
    assert positive.level >= Level.MEDIUM, positive.evidence
    assert control.level == Level.NONE, control.evidence


@pytest.mark.parametrize("quality", [10, 30, 50, 75, 95, 100])
def test_jpeg_quality_is_estimated_from_the_tables(
    folder: Path, base: np.ndarray, quality: int
) -> None:
    sample = screened(folder, f"q{quality}.jpg", encode(base[:64, :64], "JPEG", quality=quality))
    found = signal(sample, jpegquant.QUANT_NAME)
    assert found.level == Level.NONE
    assert f"IJG-scaled, estimated quality {quality}" in found.evidence


def test_unsharp_masked_image_scores_above_its_source(
    folder: Path, base: np.ndarray, clean_png: Sample
) -> None:
    sharp = np.asarray(
        Image.fromarray(base).filter(ImageFilter.UnsharpMask(radius=2, percent=200, threshold=0))
    )
    positive = signal(screened(folder, "usm.png", encode(sharp, "PNG")), sharpening.NAME)
    control = signal(clean_png, sharpening.NAME)
    assert positive.score > control.score, (positive.evidence, control.evidence)
    assert control.level == Level.NONE, control.evidence


def test_median_filtered_image_scores_above_its_source(
    folder: Path, base: np.ndarray, clean_png: Sample
) -> None:
    smooth = np.asarray(Image.fromarray(base).filter(ImageFilter.MedianFilter(5)))
    positive = signal(screened(folder, "median.png", encode(smooth, "PNG")), smoothing.NAME)
    control = signal(clean_png, smoothing.NAME)
    assert positive.score > control.score, (positive.evidence, control.evidence)
    assert control.level == Level.NONE, control.evidence


def test_contrast_stretch_scores_above_its_source(
    folder: Path, base: np.ndarray, clean_png: Sample
) -> None:
    # A non-linear (gamma) stretch: a linear one is a re-window and is undone first.
    x = np.clip((base.astype(np.float64) - 60) / 140, 0, 1)
    stretched = np.rint(255 * x**0.6).astype(np.uint8)
    positive = signal(screened(folder, "stretch.png", encode(stretched, "PNG")), contrast.NAME)
    control = signal(clean_png, contrast.NAME)
    assert positive.score > control.score, (positive.evidence, control.evidence)
    assert control.level == Level.NONE, control.evidence


def _sample(pixels: np.ndarray, *, fmt: str = "png", bits: int = 8, data: bytes = b"") -> Sample:
    return Sample(name="odd", data=data, format=fmt, pixels=pixels, bits_stored=bits)


ODD = {
    "one pixel": np.zeros((1, 1, 1, 1), np.uint8),
    "tiny": np.arange(64, dtype=np.uint8).reshape(1, 8, 8, 1),
    "empty": np.zeros((0, 0, 0, 1), np.uint8),
    "flat": np.full((1, 300, 300, 1), 7, np.uint8),
    "flat 16-bit": np.full((1, 300, 300, 1), 4095, np.uint16),
    "16-bit": np.random.default_rng(1).integers(0, 65535, (1, 200, 260, 1), dtype=np.uint16),
    "signed": np.random.default_rng(2).integers(-2000, 2000, (1, 100, 100, 1), dtype=np.int16),
    "multi-frame": np.random.default_rng(3).integers(0, 255, (5, 96, 80, 1), dtype=np.uint8),
    "colour": np.random.default_rng(4).integers(0, 255, (1, 90, 120, 3), dtype=np.uint8),
    "rgba": np.random.default_rng(5).integers(0, 255, (1, 70, 70, 4), dtype=np.uint8),
    "float": np.random.default_rng(6).random((1, 64, 64, 1)).astype(np.float32),
    "nan": np.full((1, 64, 64, 1), np.nan, np.float32),
    "one row": np.arange(600, dtype=np.uint16).reshape(1, 1, 600, 1),
}


@pytest.mark.parametrize("kind", sorted(ODD))
@pytest.mark.parametrize("fmt", ["png", "jpeg", "dicom"])
def test_odd_images_never_raise(kind: str, fmt: str) -> None:
    pixels = ODD[kind]
    bits = 16 if pixels.dtype.itemsize == 2 else 8
    data = b"\xff\xd8\xff\xe0 not really a jpeg" if fmt == "jpeg" else b""
    for module in MODULES:
        for found in module.detect(_sample(pixels, fmt=fmt, bits=bits, data=data)):
            assert 0.0 <= found.score <= 1.0
            assert isinstance(found.level, Level)


def test_real_colour_jpeg_and_16bit_png(folder: Path, base: np.ndarray) -> None:
    colour = np.stack([base, base[::-1], base[:, ::-1]], axis=-1)
    wide = (base.astype(np.uint16) * 257)[:200, :300]
    for name, data in (
        ("colour.jpg", encode(colour, "JPEG", quality=85)),
        ("wide.png", encode(wide, "PNG")),
    ):
        sample = screened(folder, name, data)
        for module in MODULES:
            for found in module.detect(sample):
                assert 0.0 <= found.score <= 1.0


def test_deterministic(folder: Path, base: np.ndarray) -> None:
    sample = screened(folder, "again.jpg", encode(base, "JPEG", quality=80))
    first = [s.to_json() for m in MODULES for s in m.detect(sample)]
    second = [s.to_json() for m in MODULES for s in m.detect(sample)]
    assert first == second
    assert first  # a JPEG always gets at least its quantisation signal
