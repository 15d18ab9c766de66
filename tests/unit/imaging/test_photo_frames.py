"""A one-frame photo's pixels are a view of Pillow's array; several frames are stacked."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ledger.imaging.limits import DecodeLimits
from ledger.imaging.photodecode import decode_photo


def _encoded(frames: list[np.ndarray], fmt: str) -> bytes:
    images = [Image.fromarray(f) for f in frames]
    out = io.BytesIO()
    images[0].save(out, format=fmt, save_all=len(images) > 1, append_images=images[1:])
    return out.getvalue()


def test_one_frame_is_pillows_array_with_a_frame_axis() -> None:
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    photo = decode_photo("x.png", _encoded([frame], "PNG"), "png", limits=DecodeLimits())
    assert photo.pixels.shape == (1, 37, 53, 3)
    assert photo.pixels.flags.c_contiguous
    assert np.array_equal(photo.pixels[0], frame)


def test_several_frames_are_stacked_in_order() -> None:
    rng = np.random.default_rng(6)
    frames = [rng.integers(0, 256, (20, 30), dtype=np.uint8) for _ in range(3)]
    photo = decode_photo("x.tif", _encoded(frames, "TIFF"), "tiff", limits=DecodeLimits())
    assert photo.pixels.shape == (3, 20, 30, 1)
    assert np.array_equal(photo.pixels[..., 0], np.stack(frames))
