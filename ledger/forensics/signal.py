"""What every forensic signal module returns, and what it is given.

A signal module exposes ``detect(sample: Sample) -> list[Signal]`` and names its published
source in its docstring. It returns no signal when it finds nothing; it never raises for an
image it cannot judge (it returns nothing and, where useful, a ``level="none"`` signal saying
why). Evidence is one line of plain text with no PHI: attribute names, never their values,
except values that identify software, generators, codecs or settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np
from pydicom.dataset import Dataset


class Level(IntEnum):
    """How strongly a signal (or an image overall) suggests generation or alteration."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Level:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown level {text!r} (none, low, medium, high)") from None


@dataclass(frozen=True)
class Signal:
    name: str  # dotted, stable: "c2pa.digital_source_type", "dicom.synthetic_data", ...
    score: float  # 0..1: the signal's strength; calibrated thresholds map it to ``level``
    level: Level
    evidence: str  # one line: what was found and where, never a patient's data

    def to_json(self) -> dict[str, Any]:
        # Scores are written as decimal strings where they enter the log (no floats there).
        return {"name": self.name, "score": round(self.score, 4), "level": self.level.label,
                "evidence": self.evidence}


@dataclass(frozen=True, eq=False)
class Sample:
    """One image as the screening sees it: the file's bytes and one decode of them."""

    name: str  # the path as given, for messages
    data: bytes  # the whole file, already bounded by the decode limits
    format: str  # dicom, png, jpeg, tiff, bmp, webp
    pixels: np.ndarray  # (frames, rows, columns, samples), stored values
    bits_stored: int
    dataset: Dataset | None = None  # DICOM header without pixel data
    transfer_syntax: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # format-specific facts a reader found
