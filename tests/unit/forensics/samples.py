"""Samples for the signal tests: files written here, decoded by the ledger's own decoder."""

from __future__ import annotations

from pathlib import Path

from ledger.forensics.screen import Screening, screen_decoded
from ledger.forensics.signal import Signal
from ledger.imaging.decode import decode
from ledger.imaging.limits import DecodeLimits


def screened(path: Path) -> Screening:
    return screen_decoded(decode(path, limits=DecodeLimits()))


def named(screening: Screening, name: str) -> list[Signal]:
    return [s for s in screening.signals if s.name == name]
