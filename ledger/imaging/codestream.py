"""What a compressed codestream declares, read from its header alone: pure and bounded.

A decoder allocates what the codestream says, not what the DICOM header says: a
754-byte file whose header says 64x64 but whose JPEG 2000 SIZ marker says
40000x40000 made openjpeg allocate gigabytes. These parsers read only the
frame header of one codestream (JPEG SOF0-15, JPEG-LS SOF55, JPEG 2000 SIZ,
optionally inside a JP2 box wrapper), never past the bytes they are given, and
raise InputError on anything malformed. They do no I/O and name no file: the
caller adds the file's name to the error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ledger.errors import InputError

# SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC); SOF55 (F7) is JPEG-LS. DHP (DE), the
# hierarchical header before the frames, has SOF's layout and declares the whole image.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xDE}
_JPEG_LS_SOF = 0xF7
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length field
_SOS, _EOI = 0xDA, 0xD9
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_MAX_JP2_BOXES = 64  # a JP2 header has a handful; more is not an image worth reading


Buffer = bytes | memoryview  # a fragment, not copied out of its element


@dataclass(frozen=True)
class Declared:
    """A frame as its codestream declares it."""

    codec: str  # "JPEG", "JPEG-LS" or "JPEG 2000", for messages
    columns: int
    rows: int
    components: int
    bits: int  # sample precision (JPEG 2000: the largest of the components)

    def size(self) -> str:
        return f"{self.columns}x{self.rows}"


def jpeg_frame(data: Buffer) -> Declared:
    """The frame header (SOFn, SOF55, or DHP of a hierarchical one) of a JPEG or JPEG-LS
    codestream: the first one, which is what a decoder allocates for."""
    if not _starts(data, b"\xff\xd8"):
        raise InputError("JPEG codestream does not start with SOI")
    pos = 2
    while True:
        marker, pos = _next_marker(data, pos)
        if marker in _STANDALONE:
            continue
        if marker in (_SOS, _EOI):
            raise InputError("JPEG codestream has no frame header before its scan")
        length = _u16(data, pos, "JPEG segment length")
        if length < 2 or pos + length > len(data):
            raise InputError("JPEG segment runs past the end of its fragment")
        if marker in _SOF or marker == _JPEG_LS_SOF:
            return _sof(data[pos + 2 : pos + length], marker)
        pos += length


def j2k_frame(data: Buffer) -> Declared:
    """The SIZ marker of a JPEG 2000 codestream (raw, or the ``jp2c`` box of a JP2 file)."""
    if _starts(data, _JP2_SIGNATURE):
        data = _jp2_codestream(data)
    if not _starts(data, b"\xff\x4f\xff\x51"):
        raise InputError("JPEG 2000 codestream does not start with SOC and SIZ")
    length = _u16(data, 4, "JPEG 2000 SIZ length")
    if length < 41 or 4 + length > len(data):
        raise InputError("JPEG 2000 SIZ marker is truncated")
    xsiz, ysiz, xosiz, yosiz = struct.unpack_from(">IIII", data, 8)
    csiz = struct.unpack_from(">H", data, 40)[0]
    if csiz < 1 or length != 38 + 3 * csiz:
        raise InputError("JPEG 2000 SIZ marker has an inconsistent component count")
    if xosiz >= xsiz or yosiz >= ysiz:
        raise InputError("JPEG 2000 SIZ marker declares an empty image area")
    bits = max((data[42 + 3 * c] & 0x7F) + 1 for c in range(csiz))
    return Declared("JPEG 2000", xsiz - xosiz, ysiz - yosiz, csiz, bits)


def _sof(body: Buffer, marker: int) -> Declared:
    if len(body) < 6:
        raise InputError("JPEG frame header is truncated")
    precision, rows, columns, components = struct.unpack_from(">BHHB", body)
    if len(body) < 6 + 3 * components:
        raise InputError("JPEG frame header is truncated")
    codec = "JPEG-LS" if marker == _JPEG_LS_SOF else "JPEG"
    return Declared(codec, columns, rows, components, precision)


def _next_marker(data: Buffer, pos: int) -> tuple[int, int]:
    """The next marker at ``pos`` (fill bytes 0xFF skipped) and the position after it."""
    if pos >= len(data) or data[pos] != 0xFF:
        raise InputError("JPEG codestream is malformed (expected a marker)")
    while pos < len(data) and data[pos] == 0xFF:
        pos += 1
    if pos >= len(data):
        raise InputError("JPEG codestream ends before its frame header")
    return data[pos], pos + 1


def _jp2_codestream(data: Buffer) -> Buffer:
    pos = 0
    for _ in range(_MAX_JP2_BOXES):
        if pos + 8 > len(data):
            break
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > len(data):
                break
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:  # the last box runs to the end
            size = len(data) - pos
        if size < header:
            raise InputError("JP2 box has an impossible length")
        if kind == b"jp2c":
            return data[pos + header : pos + size]
        pos += size
    raise InputError("JP2 file has no codestream box in its fragment")


def _u16(data: Buffer, pos: int, what: str) -> int:
    if pos + 2 > len(data):
        raise InputError(f"{what} is truncated")
    return int(struct.unpack_from(">H", data, pos)[0])


def _starts(data: Buffer, prefix: bytes) -> bool:
    return bytes(data[: len(prefix)]) == prefix
