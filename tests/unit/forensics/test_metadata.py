"""Declared provenance outside C2PA: PNG generator text chunks, EXIF software, XMP."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from ledger.forensics.signal import Level

from .samples import named, screened

PIXELS = (np.arange(32 * 32 * 3) % 251).astype(np.uint8).reshape(32, 32, 3)


def png_with(path: Path, *chunks: tuple[str, str, str]) -> Path:
    """chunks: (kind, keyword, text) with kind tEXt, zTXt or iTXt."""
    info = PngImagePlugin.PngInfo()
    for kind, keyword, text in chunks:
        if kind == "iTXt":
            info.add_itxt(keyword, text, zip=True)
        else:
            info.add_text(keyword, text, zip=kind == "zTXt")
    Image.fromarray(PIXELS).save(path, "PNG", pnginfo=info)
    return path


@pytest.mark.parametrize(("kind", "keyword", "text"), [
    ("tEXt", "parameters", "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1"),
    ("tEXt", "prompt", json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": 1}}})),
    ("zTXt", "workflow", json.dumps({"nodes": [], "links": []})),
    ("iTXt", "invokeai_metadata", json.dumps({"positive_prompt": "x", "steps": 30})),
    ("tEXt", "sd-metadata", json.dumps({"model": "stable diffusion", "image": {}})),
    ("tEXt", "Dream", '"a cat" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms'),
    ("tEXt", "Software", "NovelAI"),
    ("zTXt", "Comment", json.dumps({"steps": 28, "sampler": "k_euler", "scale": 11, "seed": 7})),
])
def test_generator_text_chunks_are_flagged(
    tmp_path: Path, kind: str, keyword: str, text: str
) -> None:
    screening = screened(png_with(tmp_path / "gen.png", (kind, keyword, text)))
    [signal] = named(screening, "png.generator_text")
    assert signal.level == Level.HIGH
    assert f"'{keyword}'" in signal.evidence
    if keyword != "Software":
        assert text not in signal.evidence  # the prompt itself is never quoted


def test_ordinary_text_chunks_are_no_signal(tmp_path: Path) -> None:
    path = png_with(tmp_path / "plain.png", ("tEXt", "Title", "chest film"),
                    ("tEXt", "Software", "GIMP-free exporter 1.0"),
                    ("zTXt", "Comment", json.dumps({"note": "exported"})))
    assert not named(screened(path), "png.generator_text")


def jpeg_with_software(path: Path, software: str, *, tag: int = 0x0131) -> Path:
    exif = Image.Exif()
    exif[tag] = software
    exif[0x010F] = "Canon"  # Make
    Image.fromarray(PIXELS).save(path, "JPEG", quality=95, exif=exif)
    return path


@pytest.mark.parametrize(("software", "level"), [
    ("Stable Diffusion XL", Level.HIGH),
    ("Adobe Firefly", Level.HIGH),
    ("Facetune2", Level.HIGH - 1),
    ("Meitu", Level.MEDIUM),
    ("Adobe Photoshop 25.0 (Windows)", Level.LOW),
    ("GIMP 2.10.36", Level.LOW),
])
def test_exif_software_naming_editors_filters_and_generators(
    tmp_path: Path, software: str, level: Level
) -> None:
    [signal] = named(screened(jpeg_with_software(tmp_path / "a.jpg", software)), "exif.software")
    assert signal.level == level
    assert repr(software) in signal.evidence


def test_exif_processing_software_is_read_too(tmp_path: Path) -> None:
    path = jpeg_with_software(tmp_path / "p.jpg", "Snapseed 2.0", tag=0x000B)
    [signal] = named(screened(path), "exif.software")
    assert "ProcessingSoftware" in signal.evidence and signal.level == Level.MEDIUM


@pytest.mark.parametrize("firmware", ["Ver.1.00", "iOS 17.1", "HDR+ 1.0.540104691zd"])
def test_camera_firmware_is_no_signal(tmp_path: Path, firmware: str) -> None:
    assert not named(screened(jpeg_with_software(tmp_path / "c.jpg", firmware)),
                     "exif.software")


XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    'syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
    ' Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/{term}"/>'
    "</rdf:RDF></x:xmpmeta>"
)


@pytest.mark.parametrize(("term", "level"), [
    ("trainedAlgorithmicMedia", Level.HIGH),
    ("compositeWithTrainedAlgorithmicMedia", Level.HIGH),
    ("algorithmicallyEnhanced", Level.LOW),
    ("digitalCapture", Level.NONE),
])
def test_xmp_digital_source_type_in_png_and_jpeg(tmp_path: Path, term: str, level: Level) -> None:
    packet = XMP.format(term=term)
    png = png_with(tmp_path / "x.png", ("iTXt", "XML:com.adobe.xmp", packet))
    jpeg = tmp_path / "x.jpg"
    Image.fromarray(PIXELS).save(jpeg, "JPEG", xmp=packet.encode())
    for path in (png, jpeg):
        [signal] = named(screened(path), "xmp.digital_source_type")
        assert signal.level == level and term in signal.evidence, path.name


def test_xmp_source_type_as_an_element_or_a_resource(tmp_path: Path) -> None:
    iptc = "http://cv.iptc.org/newscodes/digitalsourcetype/"
    forms = (
        f"<Iptc4xmpExt:DigitalSourceType>{iptc}algorithmicMedia</Iptc4xmpExt:DigitalSourceType>",
        f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{iptc}algorithmicMedia"/>',
    )
    for n, form in enumerate(forms):
        packet = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>{form}</rdf:RDF></x:xmpmeta>'
        path = tmp_path / f"{n}.jpg"
        Image.fromarray(PIXELS).save(path, "JPEG", xmp=packet.encode())
        [signal] = named(screened(path), "xmp.digital_source_type")
        assert signal.level == Level.HIGH, form
