"""The inspect use case: screen image files for signs of generation or alteration.

The same screening registration records (``ledger.forensics.screen``), on files that need
not be in any ledger. Every file is decoded and screened before anything is reported, so a
bad file gives one line and exit 2 with nothing printed or written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import InputError
from ledger.forensics.screen import SCREENING_VERSION, Screening, screen_decoded
from ledger.forensics.signal import Level
from ledger.imaging.decode import decode
from ledger.imaging.limits import DecodeLimits
from ledger.reports.screening import screening_page


@dataclass(frozen=True)
class Inspected:
    path: str
    screening: Screening

    @property
    def verdict(self) -> str:
        level = self.screening.level
        return "no signal found" if level == Level.NONE else f"suspected ({level.label})"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "level": self.screening.level.label,
            "screening_version": self.screening.version,
            "signals": [s.to_json() for s in self.screening.signals],
        }


def inspect(paths: Sequence[str | os.PathLike[str]], *, limits: DecodeLimits) -> list[Inspected]:
    """Screen every file; the first bad file raises (InputError/PolicyError naming it)."""
    if not paths:
        raise InputError("give at least one image file")
    return [Inspected(os.fspath(p), screen_decoded(decode(p, limits=limits))) for p in paths]


def write_page(results: Sequence[Inspected], target: Path) -> None:
    page = screening_page([r.to_json() for r in results])
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the page ({exc.strerror})", subject=str(target)) from None


__all__ = ["SCREENING_VERSION", "DecodeLimits", "Inspected", "Level", "inspect", "write_page"]
