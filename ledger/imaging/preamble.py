"""The 128-byte DICOM preamble: refuse polyglots, allow what the standard intends.

PS3.10 §7.1 leaves the preamble free "for use by Application Profiles or
specific implementations" (all zero when unused). That freedom lets a file be
a valid DICOM image and, at the same time, a Windows executable, an ELF or
Mach-O binary, a ZIP archive, a PDF or a script (the DICOM polyglot problem,
CVE-2019-11687). We refuse preambles that start with the signature of an
executable, archive, document or script, and PDF/HTML markers anywhere in the
preamble (readers look for them beyond offset 0). All-zero preambles and the
TIFF header that dual-personality DICOM/TIFF files carry (PS3.10 permits it;
pydicom's CT_small.dcm has one) pass; anything else passes as "other".
"""

from __future__ import annotations

from typing import Literal

from ledger.errors import InputError, PolicyError

PREAMBLE_SIZE = 128
DICM_OFFSET = 128

PreambleKind = Literal["zero", "tiff", "other"]

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
)

_TIFF = (b"II*\x00", b"MM\x00*")


def check_preamble(path_name: str, first_132_bytes: bytes) -> PreambleKind:
    """Raise PolicyError for a polyglot preamble; return what kind of preamble it is.

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
    if preamble.startswith(_TIFF):
        return "tiff"
    for signature, what in _AT_START:
        if preamble.startswith(signature):
            raise PolicyError(f"DICOM preamble carries {what}", subject=path_name)
    lowered = preamble.lower()
    for marker, what in _ANYWHERE:
        if marker in lowered:
            raise PolicyError(f"DICOM preamble carries {what}", subject=path_name)
    return "other"
