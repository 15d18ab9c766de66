"""IPTC Digital Source Type declared in XMP (without, or beside, a C2PA manifest).

Source: IPTC Photo Metadata Standard 2023.1, ``Iptc4xmpExt:DigitalSourceType``, with the
IPTC NewsCodes vocabulary http://cv.iptc.org/newscodes/digitalsourcetype/. The XMP packet is
found by its ``<x:xmpmeta`` wrapper (ISO 16684-1) anywhere in the file (JPEG APP1, PNG iTXt
``XML:com.adobe.xmp``, TIFF tag 700, WebP XMP chunk).
"""

from __future__ import annotations

import re

from ledger.forensics.pngtext import text_chunks
from ledger.forensics.signal import Level, Sample, Signal

NAME = "xmp.digital_source_type"
PNG_KEYWORD = "XML:com.adobe.xmp"
_MAX_PACKET = 1 << 20
_TERM = re.compile(
    rb"DigitalSourceType(?:\s*=\s*[\"']|\s*>\s*|\s+rdf:resource\s*=\s*[\"'])\s*"
    rb"(?:https?://cv\.iptc\.org/newscodes/digitalsourcetype/)?([A-Za-z]{3,64})"
)

# The terms the issue asks to flag (high) and to record (low); others are recorded at none.
FLAGGED = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia")
RECORDED = ("algorithmicallyEnhanced", "computationalCapture")


def source_type_signal(name: str, term: str, where: str) -> Signal:
    if term in FLAGGED:
        return Signal(name, 1.0, Level.HIGH, f"{where} declares digitalSourceType {term}")
    if term in RECORDED:
        return Signal(name, 0.4, Level.LOW, f"{where} declares digitalSourceType {term}")
    return Signal(name, 0.0, Level.NONE, f"{where} declares digitalSourceType {term}")


def detect(sample: Sample) -> list[Signal]:
    if sample.format == "dicom":
        return []
    data = sample.data
    if sample.format == "png":  # the packet may sit in a compressed iTXt chunk
        data = text_chunks(data).get(PNG_KEYWORD, "").encode("utf-8") or data
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        return []
    end = data.find(b"</x:xmpmeta>", start, start + _MAX_PACKET)
    packet = data[start : end if end > 0 else start + _MAX_PACKET]
    terms = sorted({m.group(1).decode("ascii") for m in _TERM.finditer(packet)})
    signals = [source_type_signal(NAME, t, "XMP") for t in terms[:4]]
    return sorted(signals, key=lambda s: -s.level)[:1]
