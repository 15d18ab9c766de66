"""The 128-byte DICOM preamble: refuse polyglots, allow what the standard intends.

PS3.10 §7.1 leaves the preamble free "for use by Application Profiles or
specific implementations" (all zero when unused). That freedom lets a file be
a valid DICOM image and, at the same time, a Windows executable, an ELF or
Mach-O binary, a ZIP archive, a PDF, an HTML page or a shell script (the DICOM
polyglot problem, CVE-2019-11687). A denylist of signatures cannot close it:
``<body onload=...>`` is HTML without a script tag and ``sh file.dcm`` runs
text without ``#!``. So the rule is an allowlist: a preamble is accepted only
when it is all zeros or a TIFF header (the dual-personality DICOM/TIFF files
PS3.10 permits; pydicom's CT_small.dcm has one) whose first IFD offset is
plausible and which carries no HTML, PDF or script marker. Anything else is
refused; the message names a recognised format when it sees one.
"""

from __future__ import annotations

import re
from typing import Literal

from ledger.errors import InputError, PolicyError

PREAMBLE_SIZE = 128
DICM_OFFSET = 128

PreambleKind = Literal["zero", "tiff"]  # entries made before the allowlist may say "other"
NOT_TIFF = "non-zero preamble that is not a TIFF header (CVE-2019-11687)"

# (signature at offset 0, what it is)
_AT_START: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows executable (PE) header"),
    (b"ZM", "a DOS executable header"),
    (b"\x7fELF", "an ELF executable header"),
    (b"\xfe\xed\xfa\xce", "a Mach-O executable header"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable header"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable header"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable header"),
    (b"\xca\xfe\xba\xbe", "a Mach-O universal binary (or Java class) header"),
    (b"\xbe\xba\xfe\xca", "a Mach-O universal binary header"),
    (b"\xca\xfe\xba\xbf", "a Mach-O universal binary header"),
    (b"\xbf\xba\xfe\xca", "a Mach-O universal binary header"),
    (b"PK\x03\x04", "a ZIP archive header"),
    (b"PK\x05\x06", "a ZIP archive header"),
    (b"PK\x07\x08", "a ZIP archive header"),
    (b"#!", "a script interpreter line (#!)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE2 (Microsoft Office) document header"),
    (b"Rar!\x1a\x07", "a RAR archive header"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive header"),
    (b"\x1f\x8b", "a gzip archive header"),
    (b"BZh", "a bzip2 archive header"),
    (b"\xfd7zXZ\x00", "an xz archive header"),
    (b"\x00asm", "a WebAssembly module header"),
)

# (marker anywhere in the preamble, lower-cased match, what it is)
_ANYWHERE: tuple[tuple[bytes, str], ...] = (
    (b"%pdf", "a PDF header"),
    (b"<script", "an HTML script"),
    (b"<html", "an HTML document"),
    (b"<svg", "an SVG document"),
    (b"<?php", "a PHP script"),
    (b"<body", "an HTML document"),
    (b"<iframe", "an HTML document"),
    (b"<img", "an HTML document"),
    (b"<!doctype", "an HTML document"),
    (b"javascript:", "a script"),
)

_TIFF: dict[bytes, Literal["little", "big"]] = {b"II*\x00": "little", b"MM\x00*": "big"}
_TIFF_HEADER = 8  # byte order, 42, offset of the first IFD
_TEXT_RUN = re.compile(rb"[\x20-\x7e\t\r\n]{8,}")  # 8+ printable bytes: text, not an IFD


def check_preamble(path_name: str, first_132_bytes: bytes) -> PreambleKind:
    """Raise PolicyError unless the preamble is all zeros or a plausible TIFF header.

    ``first_132_bytes`` are the preamble and the ``DICM`` prefix.
    """
    if (
        len(first_132_bytes) < DICM_OFFSET + 4
        or first_132_bytes[DICM_OFFSET : DICM_OFFSET + 4] != b"DICM"
    ):
        raise InputError("not a DICOM file with a preamble", subject=path_name)
    preamble = first_132_bytes[:PREAMBLE_SIZE]
    if preamble.count(0) == PREAMBLE_SIZE:
        return "zero"
    what = _recognised(preamble)
    if what is not None:
        raise PolicyError(f"DICOM preamble carries {what}: {NOT_TIFF}", subject=path_name)
    if not _plausible_tiff(preamble):
        raise PolicyError(NOT_TIFF, subject=path_name)
    return "tiff"


def _recognised(preamble: bytes) -> str | None:
    """The executable, archive, document or script format the preamble announces, if any."""
    for signature, what in _AT_START:
        if preamble.startswith(signature):
            return what
    lowered = preamble.lower()
    for marker, what in _ANYWHERE:
        if marker in lowered:
            return what
    return None


def _plausible_tiff(preamble: bytes) -> bool:
    """A TIFF header whose first IFD lies after it, word-aligned, followed by no text.

    The IFD may lie beyond the end of the file: pydicom's CT_small.dcm points at 530516 in
    a 39206-byte file, a TIFF reader then finds no image, and a header is harmless. What
    runs is text, so the rest of the preamble (binary IFD entries or zeros) may hold no
    run of printable characters a shell or browser would read as a command or markup."""
    order = _TIFF.get(preamble[:4])
    if order is None:
        return False
    offset = int.from_bytes(preamble[4:_TIFF_HEADER], order)
    if offset < _TIFF_HEADER or offset % 2:
        return False
    return _TEXT_RUN.search(preamble[_TIFF_HEADER:]) is None
