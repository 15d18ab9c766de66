"""The DWT-DCT invisible watermark of the open Stable Diffusion generators.

Source: ``invisible-watermark`` 0.2.0 (ShieldMnt, ``imwatermark/maxDct.py``, method
``dwtDct``): convert BGR to YUV (OpenCV's 8-bit conversion), take the one-level Haar DWT of
the U channel (scales [0, 36, 36]: Y is skipped, only channel 1 is read), cut the LL band into
4x4 blocks in row-major order, and in each block take the coefficient of largest magnitude
other than the first; block ``n`` carries bit ``n mod L`` as ``|c| mod 36 > 18``. A bit is the
majority over its blocks. Re-implemented here with numpy from that published algorithm; the
package itself (which imports torch) is only the tests' oracle.

Payloads published in the generators' code:
* Stable Diffusion 1.x, CompVis/stable-diffusion scripts/txt2img.py: bytes "StableDiffusionV1";
* Stable Diffusion 2.x, Stability-AI/stablediffusion scripts/txt2img.py: bytes "SDV2";
* SDXL, Stability-AI/generative-models scripts/demo/streamlit_helpers.py (copied into
  diffusers pipelines/stable_diffusion_xl/watermark.py): the 48 bits of
  0b101100111110110010010000011110111011000110011110.

Flagged when at least 41 of 48 bits match (the same fraction for the other lengths); clean
images measured never exceeded 32/48. JPEG at quality 85 or lower, crops, rotations and
greyscale conversion erase the mark: its absence says nothing.
"""

from __future__ import annotations

import math

import numpy as np

from ledger.forensics.signal import Level, Sample, Signal

NAME = "watermark.dwtdct"
SCALE = 36
BLOCK = 4
MIN_PIXELS = 256 * 256  # the package refuses smaller images
MATCH_FRACTION = 41 / 48
# Rows read: the bit of a block depends on its index in row-major order, so whole rows of
# blocks are kept; ~4 million pixels hold thousands of blocks per bit and bound the memory.
MAX_READ_PIXELS = 4_000_000


def _bits_of_bytes(text: bytes) -> tuple[int, ...]:
    return tuple(int(b) for b in np.unpackbits(np.frombuffer(text, dtype=np.uint8)))


PAYLOADS: dict[str, tuple[int, ...]] = {
    "Stable Diffusion 1.x (StableDiffusionV1)": _bits_of_bytes(b"StableDiffusionV1"),
    "Stable Diffusion 2.x (SDV2)": _bits_of_bytes(b"SDV2"),
    "SDXL (48-bit mark)": tuple(
        int(b) for b in bin(0b101100111110110010010000011110111011000110011110)[2:]
    ),
}


def detect(sample: Sample) -> list[Signal]:
    rgb = _rgb8(sample)
    if rgb is None:
        return []
    u = u_channel(rgb)
    blocks = block_bits(u)
    if blocks.size == 0:
        return []
    best: tuple[float, str, int, int] | None = None
    for name, payload in PAYLOADS.items():
        length = len(payload)
        bits = majority_bits(blocks, length)
        matches = int(np.sum(bits == np.array(payload, dtype=np.uint8)))
        needed = math.ceil(MATCH_FRACTION * length)
        if matches >= needed and (best is None or matches / length > best[0]):
            best = (matches / length, name, matches, length)
    if best is None:
        return []
    fraction, name, matches, length = best
    return [Signal(NAME, fraction, Level.HIGH,
                   f"invisible-watermark DWT-DCT mark of {name}: {matches}/{length} bits match")]


def _rgb8(sample: Sample) -> np.ndarray | None:
    """The first frame as (rows, columns, 3) uint8 RGB, or None (not an 8-bit colour image)."""
    pixels = sample.pixels
    color = str(sample.extra.get("color", ""))
    if pixels.ndim != 4 or pixels.shape[3] not in (3, 4) or pixels.dtype != np.uint8:
        return None
    if color not in ("RGB", "RGBA") or pixels.shape[1] * pixels.shape[2] < MIN_PIXELS:
        return None
    rows = max(8, MAX_READ_PIXELS // pixels.shape[2] // 8 * 8)
    return pixels[0, :rows, :, :3]


def u_channel(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's 8-bit BGR->YUV U: round(0.492 (B - Y)) + 128, saturated (float32)."""
    # 0.492 (B - Y) with Y = 0.299 R + 0.587 G + 0.114 B, as one product per pixel.
    weights = np.array([-0.492 * 0.299, -0.492 * 0.587, 0.492 * (1 - 0.114)], np.float32)
    u = rgb.astype(np.float32) @ weights
    u += 128.0
    np.rint(u, out=u)
    clipped: np.ndarray = np.clip(u, 0, 255, out=u)
    return clipped


def block_bits(u: np.ndarray) -> np.ndarray:
    """The bit each 4x4 block of the Haar LL band carries, blocks in row-major order."""
    rows, cols = u.shape[0] // 4 * 4, u.shape[1] // 4 * 4
    x = u[:rows, :cols]
    ll = (x[0::2, 0::2] + x[0::2, 1::2] + x[1::2, 0::2] + x[1::2, 1::2]) / 2.0
    br, bc = ll.shape[0] // BLOCK, ll.shape[1] // BLOCK
    tiles = ll[: br * BLOCK, : bc * BLOCK].reshape(br, BLOCK, bc, BLOCK).swapaxes(1, 2)
    flat = tiles.reshape(br * bc, BLOCK * BLOCK)
    pos = np.argmax(np.abs(flat[:, 1:]), axis=1) + 1
    value = np.abs(flat[np.arange(flat.shape[0]), pos])
    bits: np.ndarray = (np.mod(value, SCALE) > 0.5 * SCALE).astype(np.uint8)
    return bits


def majority_bits(blocks: np.ndarray, length: int) -> np.ndarray:
    index = np.arange(blocks.size) % length
    ones = np.bincount(index, weights=blocks, minlength=length)
    count = np.bincount(index, minlength=length)
    return (ones / np.maximum(count, 1) * 255 > 127).astype(np.uint8)
