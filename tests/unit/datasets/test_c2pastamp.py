"""A C2PA manifest is recognised by its container, not by bytes that happen to spell it."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ledger.datasets.c2pastamp import read_store_or_damaged
from ledger.errors import VerificationError


def _png(text: str | None = None) -> bytes:
    info = PngInfo()
    if text is not None:
        info.add_text("Comment", text)
    out = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _with_chunk(png: bytes, kind: bytes, body: bytes) -> bytes:
    chunk = struct.pack(">I4s", len(body), kind) + body
    chunk += struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    end = png.index(b"IEND") - 4  # before the IEND chunk's length
    return png[:end] + chunk + png[end:]


def test_the_words_alone_are_not_a_manifest() -> None:
    assert read_store_or_damaged(_png()) is None
    assert read_store_or_damaged(_png("jumb c2pa: only words")) is None


def test_a_c2pa_chunk_that_holds_no_manifest_is_damaged() -> None:
    damaged = _with_chunk(_png(), b"caBX", b"\x00\x00\x00\x10jumb" + b"c2pa" + bytes(8))
    with pytest.raises(VerificationError, match="C2PA manifest is damaged"):
        read_store_or_damaged(damaged)
