"""Self-contained HTML reports for the curator; pure rendering, no database or CLI.

* :mod:`ledger.reports.thumbs` ``thumbnail_data_uri(pixels, *, size)``: grey pixels to an
  inline PNG (nearest neighbour upscaling, so a 32 x 32 grid shows as a grid).
* :mod:`ledger.reports.html` ``dups_report``, ``leakage_report``, ``composition_report``:
  one offline HTML5 document each, every text escaped.

See docs/reports.md.
"""

from __future__ import annotations

from ledger.reports.html import (
    CompositionShare,
    ReportImage,
    composition_report,
    dups_report,
    leakage_report,
)
from ledger.reports.thumbs import thumbnail_data_uri

__all__ = [
    "CompositionShare",
    "ReportImage",
    "composition_report",
    "dups_report",
    "leakage_report",
    "thumbnail_data_uri",
]
