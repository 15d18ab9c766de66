"""Image decoding, canonical pixel digests, canonical rendering, DICOM header inspection.

``analyse`` is the one call a registration worker makes; the other names are
its parts, for callers that need only one of them.
"""

from __future__ import annotations

from ledger.imaging.analyse import Analysis, analyse
from ledger.imaging.decode import Decoded, decode
from ledger.imaging.deid import DeidStatus, deid_status
from ledger.imaging.digest import PixelDigests, pixel_digests
from ledger.imaging.limits import DecodeLimits
from ledger.imaging.preamble import check_preamble
from ledger.imaging.pseudonym import Pseudonyms, pseudonyms
from ledger.imaging.render import render, thumbnail

__all__ = [
    "Analysis",
    "DecodeLimits",
    "Decoded",
    "DeidStatus",
    "PixelDigests",
    "Pseudonyms",
    "analyse",
    "check_preamble",
    "decode",
    "deid_status",
    "pixel_digests",
    "pseudonyms",
    "render",
    "thumbnail",
]
