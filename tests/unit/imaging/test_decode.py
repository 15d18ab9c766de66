"""Decoding: format by content, photo modes and metadata, one read per file."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ledger.imaging.readfile as readfile
from ledger.imaging.analyse import analyse
from ledger.imaging.decode import decode, sniff
from ledger.imaging.digest import pixel_digests
from ledger.imaging.limits import DecodeLimits
from ledger.model.images import ImageFacts

from .data import SECRET, sample

LIMITS = DecodeLimits()


def grey(size: int = 64, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((size, size)) * 255).astype(np.uint8)


def save(path: Path, image: Image.Image, fmt: str, **options: object) -> Path:
    image.save(path, format=fmt, **options)
    return path


def test_format_comes_from_the_content_not_the_extension(tmp_path: Path) -> None:
    png_named_dcm = save(tmp_path / "scan.dcm", Image.fromarray(grey()), "PNG")
    dicom_named_png = tmp_path / "photo.png"
    shutil.copy(sample("MR_small.dcm"), dicom_named_png)
    assert decode(png_named_dcm, limits=LIMITS).format == "png"
    assert decode(dicom_named_png, limits=LIMITS).format == "dicom"


@pytest.mark.parametrize(
    ("fmt", "expected", "samples"),
    [("PNG", "png", 1), ("JPEG", "jpeg", 1), ("TIFF", "tiff", 1), ("BMP", "bmp", 1),
     ("WEBP", "webp", 3)],  # WebP has no greyscale: Pillow decodes it as RGB
)  # fmt: skip
def test_photo_formats(tmp_path: Path, fmt: str, expected: str, samples: int) -> None:
    path = save(tmp_path / "image", Image.fromarray(grey()), fmt)
    decoded = decode(path, limits=LIMITS)
    assert (decoded.format, decoded.pixels.shape) == (expected, (1, 64, 64, samples))


def test_sniff() -> None:
    assert sniff(b"\x89PNG\r\n\x1a\n....") == "png"
    assert sniff(bytes(128) + b"DICM") == "dicom"
    assert sniff(b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100") == "dicom"  # no preamble, LE
    assert sniff(b"\x00\x08\x00\x05CS\x00\x0aISO_IR 100") == "dicom"  # no preamble, BE
    assert sniff(b"GIF89a" + bytes(20)) is None
    assert sniff(b"PK\x03\x04" + bytes(20)) is None


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_lossless_photo_digests_agree_across_formats(tmp_path: Path, mode: str) -> None:
    image = Image.fromarray(grey(48)).convert(mode)
    formats: tuple[tuple[str, dict[str, object]], ...] = (("PNG", {}), ("TIFF", {}), ("BMP", {}))
    if mode == "RGB":
        formats += (("WEBP", {"lossless": True, "exact": True}),)
    digests = set()
    for fmt, options in formats:
        decoded = decode(save(tmp_path / f"x.{fmt}", image, fmt, **options), limits=LIMITS)
        digests.add(pixel_digests(decoded.pixels, bits_stored=8, signed=False).pixel_sha256)
    assert len(digests) == 1


def test_palette_png_digests_as_its_colours(tmp_path: Path) -> None:
    rgb = np.stack([grey(32, 1) // 64 * 64] * 3, axis=-1)
    as_rgb = decode(save(tmp_path / "rgb.png", Image.fromarray(rgb), "PNG"), limits=LIMITS)
    paletted = Image.fromarray(rgb).quantize(colors=8, method=Image.Quantize.MAXCOVERAGE)
    as_palette = decode(save(tmp_path / "p.png", paletted, "PNG"), limits=LIMITS)
    assert as_palette.color == "RGB"
    assert np.array_equal(as_palette.pixels, as_rgb.pixels)


def test_sixteen_bit_png(tmp_path: Path) -> None:
    values = (np.arange(64 * 64, dtype=np.uint16) * 16).reshape(64, 64)
    decoded = decode(save(tmp_path / "16.png", Image.fromarray(values), "PNG"), limits=LIMITS)
    assert decoded.color == "I;16"
    assert np.array_equal(decoded.pixels[0, :, :, 0], values)
    assert pixel_digests(decoded.pixels, bits_stored=16, signed=False).form == "<u2 1x64x64x1"


def test_bilevel_becomes_grey(tmp_path: Path) -> None:
    image = Image.fromarray(grey() > 128)
    decoded = decode(save(tmp_path / "1.png", image, "PNG"), limits=LIMITS)
    assert decoded.color == "L"
    assert set(np.unique(decoded.pixels)) <= {0, 255}


def test_multipage_tiff_is_multiframe(tmp_path: Path) -> None:
    pages = [Image.fromarray(grey(32, seed)) for seed in range(3)]
    path = tmp_path / "pages.tiff"
    pages[0].save(path, format="TIFF", save_all=True, append_images=pages[1:])
    result = analyse(path, secret=SECRET, limits=LIMITS)
    assert result.pixel_form == "|u1 3x32x32x1"
    assert len(result.frame_sha256) == 3
    document = result.to_json()
    assert document["frame_tree"] == {"alg": "rfc9162-sha256", "count": 3,
                                      "root": result.frame_root}  # fmt: skip
    ImageFacts.model_validate(document)  # the root agrees with the listed digests


def test_single_frame_facts_have_no_frame_tree(tmp_path: Path) -> None:
    path = save(tmp_path / "one.png", Image.fromarray(grey(32)), "PNG")
    document = analyse(path, secret=SECRET, limits=LIMITS).to_json()
    assert document["frame_sha256"] == []
    assert "frame_tree" not in document  # single-frame entries are unchanged byte for byte
    ImageFacts.model_validate(document)


def test_exif_keeps_make_model_software_only(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Acme"  # Make
    exif[0x0110] = "Scope 3000"  # Model
    exif[0x0131] = "Firmware 1.2"  # Software
    exif[0x013B] = "Dr Jane Example"  # Artist
    exif[0x0132] = "2024:01:02 03:04:05"  # DateTime
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    exif.get_ifd(0x8769)[0xA431] = "SN-998877"  # BodySerialNumber
    path = save(tmp_path / "photo.jpg", Image.fromarray(grey()), "JPEG", exif=exif)
    result = analyse(path, secret=SECRET, limits=LIMITS)
    text = str(result.to_json())
    assert {k: result.metadata[k] for k in ("Make", "Model", "Software")} == {
        "Make": "Acme", "Model": "Scope 3000", "Software": "Firmware 1.2",
    }  # fmt: skip
    for secret in ("Jane", "2024:01:02", "51.0", "SN-998877"):
        assert secret not in text
    assert set(result.deid.identifying_present) == {
        "Artist", "BodySerialNumber", "DateTime", "GPSInfo",
    }  # fmt: skip


def test_png_text_chunks_are_named_not_kept(tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Dr Jane Example")
    info.add_text("Comment", "patient 12345")
    path = save(tmp_path / "t.png", Image.fromarray(grey()), "PNG", pnginfo=info)
    result = analyse(path, secret=SECRET, limits=LIMITS)
    assert "Jane" not in str(result.to_json()) and "12345" not in str(result.to_json())
    assert result.deid.identifying_present == ("PNG text Author", "PNG text Comment")


def test_the_file_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = []
    real = readfile._read_all

    def counting(fd: int, size: int) -> bytes:
        reads.append(size)
        return real(fd, size)

    monkeypatch.setattr(readfile, "_read_all", counting)
    result = analyse(sample("MR_small.dcm"), secret=SECRET, limits=LIMITS)
    assert reads == [9830]
    assert result.file_sha256 == hashlib.sha256(sample("MR_small.dcm").read_bytes()).hexdigest()


def test_decoded_dicom_keeps_no_pixel_bytes() -> None:
    decoded = decode(sample("MR_small.dcm"), limits=LIMITS)
    assert decoded.dataset is not None
    assert "PixelData" not in decoded.dataset
    assert decoded.pixels.shape == (1, 64, 64, 1)


def test_dicom_without_preamble_or_file_meta() -> None:
    decoded = decode(sample("OT-PAL-8-face.dcm"), limits=LIMITS)
    assert (decoded.format, decoded.preamble, decoded.color) == ("dicom", None, "PALETTE COLOR")


def test_ybr_is_kept_as_stored() -> None:
    decoded = decode(sample("SC_rgb_jpeg_dcmtk.dcm"), limits=LIMITS)
    assert decoded.color == "YBR_FULL"
    rgb = decode(sample("SC_rgb.dcm"), limits=LIMITS)
    assert not np.array_equal(decoded.pixels, rgb.pixels)


def test_jpeg_photo_pixels_match_pillow(tmp_path: Path) -> None:
    path = save(tmp_path / "c.jpg", Image.fromarray(np.stack([grey()] * 3, -1)), "JPEG")
    expected = np.asarray(Image.open(io.BytesIO(path.read_bytes())))
    assert np.array_equal(decode(path, limits=LIMITS).pixels[0], expected)
