"""Deflated DICOM data sets (1.2.840.10008.1.2.1.99), inflated under a limit.

pydicom inflates the whole data set in one ``zlib.decompress`` before it reads
a single element, so a 1 MB file could inflate to gigabytes before any limit
was checked. Here the data set is inflated in chunks, and as it grows:

* the inflated size is held to ``max_inflated_bytes``;
* every element header that has arrived is read (explicit VR little endian,
  into sequences and items, fragments of encapsulated pixel data skipped by
  their lengths): an element that declares more bytes than the limit has left
  is refused before its value is inflated (a 1 GiB private OB element costs
  its header, not a gigabyte);
* when the pixel data element's header arrives, the data set before it is
  parsed and ``check_header`` runs on it, so that a data set declaring
  20000x20000 is refused before its pixel data is inflated.

The inflated bytes are then read by pydicom as it would have read them.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.filereader import read_dataset

from ledger.errors import InputError, PolicyError

CHUNK = 1 << 20  # inflated bytes per step
_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD

HeaderCheck = Callable[[Dataset, int], None]  # the data set before the pixel data, its tag


def read_deflated(
    name: str,
    deflated: bytes | memoryview,
    *,
    preamble: bytes | None,
    meta: FileMetaDataset,
    limit: int,
    check_header: HeaderCheck,
) -> FileDataset:
    """Inflate the data set after the file meta and read it; errors name ``name``."""
    scan = _Scan(name, limit)
    inflated = _inflate(name, deflated, limit, scan, check_header)
    dataset = _parse(name, inflated)
    ds = FileDataset(name, dataset, preamble, meta, is_implicit_VR=False, is_little_endian=True)
    ds.set_original_encoding(False, True, dataset._character_set)
    return ds


def _inflate(
    name: str, deflated: bytes | memoryview, limit: int, scan: _Scan, check: HeaderCheck
) -> bytes:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = bytearray()
    pending: bytes | memoryview = deflated
    try:
        while True:
            piece = inflater.decompress(pending, CHUNK)
            out += piece
            if len(out) > limit:
                raise PolicyError(
                    f"decompression bomb: deflated data set inflates to more than {limit} bytes",
                    subject=name,
                )
            pixel_at = scan.advance(out)
            if pixel_at is not None:
                check(_parse(name, bytes(out[:pixel_at])), scan.pixel_tag)
            pending = inflater.unconsumed_tail
            if inflater.eof or (not pending and len(piece) < CHUNK):
                break
    except zlib.error:
        raise InputError("malformed deflated data set (corrupt stream)", subject=name) from None
    if not inflater.eof:
        raise InputError("malformed deflated data set (truncated stream)", subject=name)
    return bytes(out)


def _parse(name: str, data: bytes) -> Dataset:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = read_dataset(io.BytesIO(data), False, True)
    except MemoryError:  # the worker's memory ceiling: its caller refuses the file
        raise
    except Exception as exc:  # pydicom's messages can quote values: only the type
        raise InputError(f"malformed DICOM ({type(exc).__name__})", subject=name) from None
    return dataset


@dataclass
class _Scan:
    """Reads element headers of a growing explicit VR little endian stream."""

    name: str
    limit: int
    pos: int = 0
    stack: list[str] = field(default_factory=list)  # "sequence", "item", "fragments"
    header_checked: bool = False
    pixel_tag: int = 0
    stopped: bool = False  # a header it cannot follow: the total limit still holds

    def advance(self, buf: bytearray) -> int | None:
        """Read the headers that have arrived; the pixel data's offset once it is reached."""
        while not self.stopped and self.pos + 8 <= len(buf):
            tag = (struct.unpack_from("<H", buf, self.pos)[0] << 16) | struct.unpack_from(
                "<H", buf, self.pos + 2
            )[0]
            if tag >> 16 == 0xFFFE:
                self._delimiter(tag, struct.unpack_from("<I", buf, self.pos + 4)[0])
                continue
            if not self.stack and tag in _PIXEL_TAGS and not self.header_checked:
                self.header_checked, self.pixel_tag = True, tag
                return self.pos
            vr = bytes(buf[self.pos + 4 : self.pos + 6])
            if vr in _LONG_VRS:
                if self.pos + 12 > len(buf):
                    return None
                length, header = struct.unpack_from("<I", buf, self.pos + 8)[0], 12
            elif vr.isalpha() and vr.isupper():
                length, header = struct.unpack_from("<H", buf, self.pos + 6)[0], 8
            else:
                self.stopped = True  # not explicit VR: pydicom decides what it is
                return None
            if length == _UNDEFINED:
                if vr == b"SQ":
                    self.stack.append("sequence")
                elif vr in (b"OB", b"OW"):
                    self.stack.append("fragments")
                else:
                    self.stopped = True
                self.pos += header
                continue
            self._fits(tag, length, self.pos + header)
            self.pos += header + length
        return None

    def _delimiter(self, tag: int, length: int) -> None:
        top = self.stack[-1] if self.stack else None
        if tag == _ITEM and length != _UNDEFINED:
            self._fits(tag, length, self.pos + 8)
            self.pos += 8 + length  # a fragment, or an item read as a whole later
        elif tag == _ITEM and top == "sequence":
            self.stack.append("item")
            self.pos += 8
        elif tag == _ITEM_END and top == "item":
            self.stack.pop()
            self.pos += 8
        elif tag == _SEQUENCE_END and top in ("sequence", "fragments"):
            self.stack.pop()
            self.pos += 8
        else:
            self.stopped = True

    def _fits(self, tag: int, length: int, start: int) -> None:
        if length > self.limit - start:
            raise PolicyError(
                f"decompression bomb: deflated data set declares a {length}-byte element "
                f"({tag >> 16:04X},{tag & 0xFFFF:04X}), more than the inflation limit of "
                f"{self.limit} bytes allows",
                subject=self.name,
            )
