"""image.registered's optional ``screening``: what the forensic screening found at registration.

Signal names, scores as decimal strings (no floats in the log), levels and the screening
version: enough for a later verifier to see what was known when the image was registered.
The evidence text is not recorded (``medledger inspect`` shows it for the file).
``deferred`` names the signal modules registration did not run on this image (the advisory
pixel statistics on images too small for their fixed cost to stay under the registration
budget); ``medledger inspect`` runs them. Absent: every module ran.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LEVELS = ("none", "low", "medium", "high")
LevelName = Literal["none", "low", "medium", "high"]
MAX_SIGNALS = 16
ModuleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


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
    # Absent (never null) when every module ran, and in entries of screening version 1.
    deferred: list[ModuleName] | None = Field(
        default=None,
        max_length=MAX_SIGNALS,
        description="signal modules not run at registration (medledger inspect runs them)",
        json_schema_extra=lambda schema: _omitted_not_null(schema),
    )

    @model_validator(mode="after")
    def _deferred_not_null(self) -> ScreeningRecord:
        if self.deferred is None and "deferred" in self.model_fields_set:
            raise ValueError("deferred is omitted, never null")
        return self


def _omitted_not_null(schema: dict[str, Any]) -> None:
    """Schema of an optional field that is omitted when absent, never null."""
    schema.pop("default", None)
    variants = [v for v in schema.pop("anyOf", ()) if v != {"type": "null"}]
    schema.update(variants[0])
