"""Decoding limits, passed in by the caller: no global state.

A decompression bomb is a small file that declares (or decodes to) a huge
image. Every limit is checked from the header, before any pixel data is
decoded: for DICOM, Rows x Columns x Number of Frames (pixels) and
Rows x Columns x Frames x Samples per Pixel x Bits Allocated (decoded size);
for photos, Pillow's declared size x frame count before ``load()``. The
codestream of every compressed DICOM frame must declare what the header
declares (``encapsulated``), and a deflated data set is inflated under a limit
(``inflate``).
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
# An inflated data set is held to what a file may hold uninflated.
DEFAULT_MAX_INFLATED_BYTES = DEFAULT_MAX_FILE_BYTES


@dataclass(frozen=True)
class DecodeLimits:
    """Upper bounds for one image; exceeding any of them is a PolicyError.

    * ``max_pixels``: rows x columns x frames.
    * ``max_decoded_bytes``: rows x columns x frames x samples x bits allocated / 8.
    * ``max_file_bytes``: the size of the file, checked before it is read.
    * ``max_inflated_bytes``: a deflated DICOM data set once inflated, checked as it
      grows (and each element's declared length against what is left of it).
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES
    max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES

    def __post_init__(self) -> None:
        for name in ("max_pixels", "max_file_bytes", "max_decoded_bytes", "max_inflated_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InputError(f"decode limit {name} must be a positive integer")
