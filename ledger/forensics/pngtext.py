"""Generator parameters left in PNG text chunks (tEXt, zTXt, iTXt).

Sources: the PNG specification (W3C, 3rd ed., 11.3.3 textual information) for the chunk
layout; the keywords are those the open generators write: ``parameters`` (AUTOMATIC1111
stable-diffusion-webui and Forge, modules/images.py), ``prompt`` and ``workflow`` (ComfyUI,
nodes.py SaveImage), ``invokeai_metadata`` and ``sd-metadata`` (InvokeAI), ``Dream``
(lstein/stable-diffusion, InvokeAI's predecessor), and NovelAI's ``Software`` = "NovelAI"
with its JSON ``Comment`` holding the sampler settings. Only keywords are quoted in the
evidence, never the text (a prompt may say anything).
"""

from __future__ import annotations

import json
import struct
import zlib

from ledger.forensics.signal import Level, Sample, Signal

NAME = "png.generator_text"
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_MAX_TEXT = 1 << 20  # bytes of one inflated text: generator metadata is far smaller
_MAX_CHUNKS = 10_000

_GENERATOR_KEYWORDS = {
    "parameters": "AUTOMATIC1111/Forge generation parameters",
    "prompt": "ComfyUI prompt graph",
    "workflow": "ComfyUI workflow",
    "invokeai_metadata": "InvokeAI metadata",
    "sd-metadata": "InvokeAI (legacy) metadata",
    "Dream": "lstein/InvokeAI dream command",
}
_SAMPLER_KEYS = ("steps", "sampler", "scale", "seed")


def detect(sample: Sample) -> list[Signal]:
    if sample.format != "png":
        return []
    texts = text_chunks(sample.data)
    found = [(k, why) for k, why in _GENERATOR_KEYWORDS.items() if k in texts]
    if texts.get("Software", "").strip().startswith("NovelAI"):
        found.append(("Software", "NovelAI"))
    elif "Comment" in texts and _sampler_json(texts["Comment"]):
        found.append(("Comment", "JSON sampler settings (NovelAI layout)"))
    if not found:
        return []
    listed = "; ".join(f"'{k}' ({why})" for k, why in found)
    return [Signal(NAME, 1.0, Level.HIGH, f"PNG text chunks of an image generator: {listed}")]


def text_chunks(data: bytes) -> dict[str, str]:
    """Keyword -> text of every textual chunk (first of each keyword), bounded."""
    out: dict[str, str] = {}
    if not data.startswith(_SIGNATURE):
        return out
    pos = len(_SIGNATURE)
    for _ in range(_MAX_CHUNKS):
        if pos + 8 > len(data):
            break
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IEND" or len(body) != length:
            break
        if kind in _TEXT_CHUNKS:
            parsed = _parse(kind, body)
            if parsed is not None and parsed[0] not in out:
                out[parsed[0]] = parsed[1]
    return out


def _parse(kind: bytes, body: bytes) -> tuple[str, str] | None:
    keyword, sep, rest = body.partition(b"\x00")
    if not sep or not 1 <= len(keyword) <= 79:
        return None
    name = keyword.decode("latin-1")
    if kind == b"tEXt":
        return name, rest[:_MAX_TEXT].decode("latin-1")
    if kind == b"zTXt":
        text = _inflate(rest[1:]) if rest[:1] == b"\x00" else None
        return (name, text.decode("latin-1")) if text is not None else None
    # iTXt: flag, method, language\0, translated keyword\0, text (UTF-8)
    if len(rest) < 2:
        return None
    flag, method = rest[0], rest[1]
    _lang, _, rest = rest[2:].partition(b"\x00")
    _translated, _, text_bytes = rest.partition(b"\x00")
    if flag == 1:
        inflated = _inflate(text_bytes) if method == 0 else None
        if inflated is None:
            return None
        text_bytes = inflated
    return name, text_bytes[:_MAX_TEXT].decode("utf-8", "replace")


def _inflate(data: bytes) -> bytes | None:
    try:
        return zlib.decompressobj().decompress(data, _MAX_TEXT)
    except zlib.error:
        return None


def _sampler_json(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and sum(k in value for k in _SAMPLER_KEYS) >= 3
