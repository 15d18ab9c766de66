"""Decoding limits, passed in by the caller: no global state.

A decompression bomb is a small file that declares (or decodes to) a huge
image. Every limit is checked from the header, before any pixel data is
decoded: for DICOM, Rows x Columns x Number of Frames (pixels) and
Rows x Columns x Frames x Samples per Pixel x Bits Allocated (decoded size);
for photos, Pillow's declared size x frame count before ``load()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import InputError

# Pillow's own default warning threshold (Image.MAX_IMAGE_PIXELS), so that a photo and a
# DICOM image are held to the same bound by default. Pillow refuses outright (at open
# time, before we see the size) above twice its global value; a larger max_pixels for
# photos therefore needs the application to raise Image.MAX_IMAGE_PIXELS once at start-up.
DEFAULT_MAX_PIXELS = 89_478_485
DEFAULT_MAX_DECODED_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class DecodeLimits:
    """Upper bounds for one image; exceeding any of them is a PolicyError.

    * ``max_pixels``: rows x columns x frames.
    * ``max_decoded_bytes``: rows x columns x frames x samples x bits allocated / 8.
    * ``max_file_bytes``: the size of the file, checked before it is read.
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES

    def __post_init__(self) -> None:
        for name in ("max_pixels", "max_file_bytes", "max_decoded_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InputError(f"decode limit {name} must be a positive integer")
