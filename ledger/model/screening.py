"""image.registered's optional ``screening``: what the forensic screening found at registration.

Signal names, scores as decimal strings (no floats in the log), levels and the screening
version: enough for a later verifier to see what was known when the image was registered.
The evidence text is not recorded (``medledger inspect`` shows it for the file).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LEVELS = ("none", "low", "medium", "high")
LevelName = Literal["none", "low", "medium", "high"]
MAX_SIGNALS = 16


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ScreenedSignal(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=64)
    score: str = Field(pattern=r"^(0\.[0-9]{4}|1\.0000)$", description="0..1, four decimals")
    level: LevelName


class ScreeningRecord(_Strict):
    """The overall level and the signals found (strongest first); see docs/forensics.md."""

    v: int = Field(ge=1, le=1000, description="screening version (rules and thresholds)")
    level: LevelName
    signals: list[ScreenedSignal] = Field(max_length=MAX_SIGNALS)
