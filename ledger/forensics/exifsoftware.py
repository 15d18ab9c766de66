"""EXIF Software (0x0131) and ProcessingSoftware (0x000B) naming an editor, filter app or
generator.

Source: CIPA DC-008 (Exif 2.32) and TIFF 6.0 for the tags; the names are those the
products write (their own sample files and documentation). A camera writes its firmware
here; an editor or app that re-saves the image writes its own name. Generators: high;
beauty and filter apps: medium; general editors: low (an edit, not necessarily a filter).
The evidence quotes the software name (a product, not a person).
"""

from __future__ import annotations

import io
import re
import warnings

from PIL import ExifTags, Image

from ledger.forensics.signal import Level, Sample, Signal

NAME = "exif.software"
_PILLOW = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF", "webp": "WEBP"}
_PROCESSING_SOFTWARE = 0x000B

# (pattern, kind, level): matched case-insensitively from the start of a word ("Facetune2").
_KNOWN: tuple[tuple[str, str, Level], ...] = (
    (r"stable ?diffusion|automatic1111|comfyui|invokeai|novelai|midjourney|dall[-·]?e\b|"
     r"firefly|google imagen|leonardo\.?ai|bing image creator|ideogram|flux", "generator",
     Level.HIGH),
    (r"facetune|faceapp|meitu|beautyplus|beauty ?cam|youcam|airbrush|snow|b612|"
     r"perfect365|retouchme|lensa|remini|picsart|vsco|prisma|snapseed|instagram|"
     r"photoroom|fotor", "filter app", Level.MEDIUM),
    (r"photoshop|lightroom|gimp|affinity|pixelmator|paint\.net|capture one|darktable|"
     r"rawtherapee|luminar|photopea|acdsee|corel|paintshop|krita|topaz", "editor", Level.LOW),
)
_COMPILED = tuple((re.compile(rf"\b(?:{p})", re.IGNORECASE), k, lv) for p, k, lv in _KNOWN)
_SCORES = {Level.HIGH: 1.0, Level.MEDIUM: 0.7, Level.LOW: 0.4}


def detect(sample: Sample) -> list[Signal]:
    label = _PILLOW.get(sample.format)
    if label is None or (label == "PNG" and b"eXIf" not in sample.data):
        return []  # Pillow would read the whole PNG to look for an eXIf chunk
    values = software_values(sample.data, label)
    best: tuple[Level, str, str, str] | None = None
    for tag, value in values.items():
        for pattern, kind, level in _COMPILED:
            if pattern.search(value) and (best is None or level > best[0]):
                best = (level, kind, tag, value)
                break
    if best is None:
        return []
    level, kind, tag, value = best
    return [Signal(NAME, _SCORES[level], level, f"EXIF {tag} names a {kind}: {value!r}")]


def software_values(data: bytes, label: str) -> dict[str, str]:
    """EXIF Software and ProcessingSoftware, printable and at most 64 characters each."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(io.BytesIO(data), formats=[label]) as img:
                exif = img.getexif()
        except Exception:  # Pillow raises many kinds on odd metadata; no EXIF then
            return {}
    out = {}
    for tag, name in ((ExifTags.Base.Software, "Software"), (_PROCESSING_SOFTWARE,
                                                             "ProcessingSoftware")):
        value = exif.get(tag)
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str):
            text = "".join(c for c in value if c.isprintable()).strip()[:64]
            if text:
                out[name] = text
    return out
