"""Every encapsulated frame's codestream checked against the header and the limits.

Runs before any decoder: a JPEG, JPEG-LS or JPEG 2000 decoder allocates what
its codestream's frame header declares, whatever the DICOM header says. Each
fragment that starts a codestream (a frame's first fragment holds its header;
entropy-coded data cannot start with SOI or SOC) is parsed with
:mod:`ledger.imaging.codestream`, and its size, components and precision must
be the header's Columns x Rows, Samples per Pixel and at most Bits Allocated.
The first fragment must start a codestream, or no decoder would accept it.
Fragments are walked by their item lengths and never read past the element.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pydicom.uid import (
    UID,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
)

from ledger.errors import InputError, PolicyError
from ledger.imaging.codestream import Buffer, Declared, j2k_frame, jpeg_frame
from ledger.imaging.limits import DecodeLimits

_ITEM, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE0DD
_JPEG_START = b"\xff\xd8"
_J2K_STARTS = (b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  \r\n\x87\n")


@dataclass(frozen=True)
class Header:
    """What the DICOM header declares for each frame."""

    rows: int
    columns: int
    samples: int
    bits_allocated: int


def check_frames(
    name: str, pixel_data: bytes, tsyntax: UID, header: Header, limits: DecodeLimits
) -> None:
    """Raise PolicyError/InputError naming ``name`` unless every codestream fits."""
    parser = _parser(tsyntax)
    if parser is None:
        return
    parse, starts = parser
    found = 0
    for index, fragment in enumerate(_fragments(name, pixel_data)):
        if not bytes(fragment[:12]).startswith(starts):
            if index == 0:
                raise InputError(
                    f"{_codec(tsyntax)} pixel data does not start with a codestream", subject=name
                )
            continue
        found += 1
        try:
            declared = parse(fragment)
        except InputError as exc:
            raise InputError(f"{exc.message} (frame {found})", subject=name) from None
        _check(name, declared, header, limits, found)
    if found == 0:
        raise InputError(f"{_codec(tsyntax)} pixel data holds no codestream", subject=name)


def _check(name: str, declared: Declared, header: Header, limits: DecodeLimits, frame: int) -> None:
    where = f" (frame {frame})" if frame > 1 else ""
    says = f"{header.columns}x{header.rows}"
    if (declared.columns, declared.rows) != (header.columns, header.rows):
        raise InputError(
            f"{declared.codec} codestream{where} declares {declared.size()}, "
            f"the header says {says}",
            subject=name,
        )
    pixels = declared.columns * declared.rows
    decoded = pixels * declared.components * -(-declared.bits // 8)
    if pixels > limits.max_pixels or decoded > limits.max_decoded_bytes:
        raise PolicyError(
            f"decompression bomb: {declared.codec} codestream{where} declares "
            f"{declared.size()} x {declared.components} component(s) of {declared.bits} bits, "
            f"the header says {says}; over the limit of {limits.max_pixels} pixels or "
            f"{limits.max_decoded_bytes} decoded bytes",
            subject=name,
        )
    if declared.components != header.samples:
        raise InputError(
            f"{declared.codec} codestream{where} declares {declared.components} component(s), "
            f"the header says {header.samples} sample(s) per pixel",
            subject=name,
        )
    if declared.bits > header.bits_allocated:
        raise InputError(
            f"{declared.codec} codestream{where} declares {declared.bits}-bit samples, "
            f"the header allocates {header.bits_allocated} bits",
            subject=name,
        )


def _parser(tsyntax: UID) -> tuple[Callable[[Buffer], Declared], bytes | tuple[bytes, ...]] | None:
    if tsyntax in JPEG2000TransferSyntaxes:
        return j2k_frame, _J2K_STARTS
    if tsyntax in JPEGTransferSyntaxes or tsyntax in JPEGLSTransferSyntaxes:
        return jpeg_frame, _JPEG_START
    return None  # native, deflated and RLE data decode to the header's size


def _codec(tsyntax: UID) -> str:
    if tsyntax in JPEG2000TransferSyntaxes:
        return "JPEG 2000"
    return "JPEG-LS" if tsyntax in JPEGLSTransferSyntaxes else "JPEG"


def _fragments(name: str, data: bytes) -> Iterator[memoryview]:
    """The fragments after the Basic Offset Table item, as views (never copied)."""
    view, pos, first = memoryview(data), 0, True
    while pos + 8 <= len(data):
        group, element, length = struct.unpack_from("<HHI", data, pos)
        tag = (group << 16) | element
        if tag == _SEQUENCE_END:
            return
        if tag != _ITEM or length == 0xFFFFFFFF or pos + 8 + length > len(data):
            raise InputError("malformed encapsulated pixel data (bad fragment item)", subject=name)
        if not first:
            yield view[pos + 8 : pos + 8 + length]
        first, pos = False, pos + 8 + length
    if pos != len(data):
        raise InputError("malformed encapsulated pixel data (truncated item)", subject=name)
