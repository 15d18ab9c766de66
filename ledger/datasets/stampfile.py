"""Carrying a provenance stamp inside an image file, pixels untouched.

* PNG: an iTXt chunk, keyword ``medledger-provenance``, uncompressed, before IEND.
* JPEG: an APP1 XMP segment (``http://ns.adobe.com/xap/1.0/``) right after SOI/APP0, whose
  packet holds the stamp as the text of ``medledger:Provenance``.
* DICOM: a private block (group 0x0071, creator ``MEDLEDGER 1``, element 0x01 the stamp as
  UT) and an item of the Contributing Equipment Sequence (0018,A001) naming the stamp; the
  file is written in its own transfer syntax, the pixel data element as it was.

A file is stamped once: stamping again replaces the previous stamp. Reading returns the
stamp's text, or None for a file without one.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from ledger.errors import InputError

if TYPE_CHECKING:  # pydicom loads only when a DICOM file is stamped or checked
    from pydicom.dataset import FileDataset

KEYWORD = b"medledger-provenance"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_NS = "https://medledger.local/ns/provenance/1.0/"
PRIVATE_GROUP = 0x0071
PRIVATE_CREATOR = "MEDLEDGER 1"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_SEGMENT = 65_533  # a JPEG segment's payload, length bytes excluded


# --- PNG ----------------------------------------------------------------------------------

def _png_chunks(data: bytes, where: str) -> list[tuple[bytes, bytes]]:
    if not data.startswith(_PNG_SIGNATURE):
        raise InputError("not a PNG file", subject=where)
    chunks, at = [], len(_PNG_SIGNATURE)
    while at < len(data):
        if at + 8 > len(data):
            raise InputError("truncated PNG chunk", subject=where)
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        end = at + 12 + length
        if end > len(data):
            raise InputError("truncated PNG chunk", subject=where)
        chunks.append((kind, data[at + 8 : at + 8 + length]))
        at = end
        if kind == b"IEND":
            break
    return chunks


def _is_stamp_chunk(kind: bytes, body: bytes) -> bool:
    return kind == b"iTXt" and body.startswith(KEYWORD + b"\x00")


def png_stamp(data: bytes, where: str) -> str | None:
    for kind, body in _png_chunks(data, where):
        if _is_stamp_chunk(kind, body):
            # keyword NUL, compression flag 0, method 0, language NUL, translated NUL, text
            fields = body[len(KEYWORD) + 3 :].split(b"\x00", 2)
            if len(fields) == 3:
                return fields[2].decode("utf-8", "replace")
    return None


def png_with_stamp(data: bytes, stamp: str, where: str) -> bytes:
    body = KEYWORD + b"\x00\x00\x00" + b"\x00" + b"\x00" + stamp.encode("utf-8")
    out = [_PNG_SIGNATURE]
    for kind, chunk in _png_chunks(data, where):
        if _is_stamp_chunk(kind, chunk):
            continue
        if kind == b"IEND":
            out.append(_png_chunk(b"iTXt", body))
        out.append(_png_chunk(kind, chunk))
    return b"".join(out)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I4s", len(body), kind) + body + struct.pack(">I", crc)


# --- JPEG ---------------------------------------------------------------------------------

def _jpeg_segments(data: bytes, where: str) -> tuple[list[tuple[int, bytes]], bytes]:
    """The marker segments before SOS as (marker, payload), and the rest from SOS on."""
    if not data.startswith(b"\xff\xd8"):
        raise InputError("not a JPEG file", subject=where)
    segments: list[tuple[int, bytes]] = []
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise InputError("malformed JPEG marker", subject=where)
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: the entropy-coded data follows
            return segments, data[at:]
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if length < 2 or at + 2 + length > len(data):
            raise InputError("truncated JPEG segment", subject=where)
        segments.append((marker, data[at + 4 : at + 2 + length]))
        at += 2 + length
    raise InputError("JPEG without a scan", subject=where)


def _is_stamp_segment(marker: int, payload: bytes) -> bool:
    return marker == 0xE1 and payload.startswith(XMP_HEADER) and XMP_NS.encode() in payload


def jpeg_stamp(data: bytes, where: str) -> str | None:
    segments, _ = _jpeg_segments(data, where)
    for marker, payload in segments:
        if _is_stamp_segment(marker, payload):
            return _xmp_text(payload[len(XMP_HEADER) :].decode("utf-8", "replace"))
    return None


def jpeg_with_stamp(data: bytes, stamp: str, where: str) -> bytes:
    segments, scan = _jpeg_segments(data, where)
    payload = XMP_HEADER + _xmp_packet(stamp).encode("utf-8")
    if len(payload) > _MAX_SEGMENT:
        raise InputError("the stamp does not fit in one JPEG segment", subject=where)
    kept = [(m, p) for m, p in segments if not _is_stamp_segment(m, p)]
    at = 1 if kept and kept[0][0] == 0xE0 else 0  # after JFIF's APP0, which must come first
    kept.insert(at, (0xE1, payload))
    out = [b"\xff\xd8"]
    out += [bytes((0xFF, m)) + struct.pack(">H", len(p) + 2) + p for m, p in kept]
    return b"".join(out) + scan


def _xmp_packet(stamp: str) -> str:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:medledger="{XMP_NS}">'
        f"<medledger:Provenance>{escape(stamp)}</medledger:Provenance>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )


def _xmp_text(packet: str) -> str | None:
    start, end = "<medledger:Provenance>", "</medledger:Provenance>"
    if start not in packet or end not in packet:
        return None
    text = packet[packet.index(start) + len(start) : packet.index(end)]
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# --- DICOM --------------------------------------------------------------------------------

def dicom_stamp(data: bytes, where: str) -> str | None:
    ds = _read_dicom(data, where, stop_before_pixels=True)
    try:
        block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR)
    except KeyError:
        return None
    if 0x01 not in block:
        return None
    return str(block[0x01].value)


def dicom_with_stamp(data: bytes, stamp: str, summary: str, where: str) -> bytes:
    from pydicom.dataset import Dataset

    ds = _read_dicom(data, where, stop_before_pixels=False)
    block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    block.add_new(0x01, "UT", stamp)
    item = Dataset()
    item.Manufacturer = "medledger"
    item.ContributionDescription = summary[:1024]
    sequence = list(ds.get("ContributingEquipmentSequence", []))
    sequence = [i for i in sequence if getattr(i, "Manufacturer", "") != "medledger"]
    ds.ContributingEquipmentSequence = [*sequence, item]
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=False)
    return out.getvalue()


def _read_dicom(data: bytes, where: str, *, stop_before_pixels: bool) -> FileDataset:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=stop_before_pixels)
    except (InvalidDicomError, ValueError, OSError, EOFError) as exc:
        raise InputError(f"not a readable DICOM file: {exc}", subject=where) from None
