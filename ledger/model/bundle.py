"""The offline audit bundle file (see ledger/bundle.py for what each part proves)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

HEX64 = r"^[0-9a-f]{64}$"


def _omitted_not_null(schema: dict[str, Any]) -> None:
    """Schema of an optional field that is omitted when absent, never null."""
    schema.pop("default", None)
    variants = [v for v in schema.pop("anyOf", ()) if v != {"type": "null"}]
    schema.update(variants[0])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class OutsideNode(_Strict):
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    hash: str = Field(pattern=HEX64)


class PrevLeaf(_Strict):
    index: int = Field(ge=0)
    leaf_hash: str = Field(pattern=HEX64)
    proof: list[str] = Field(max_length=64)


class PriorKey(_Strict):
    index: int = Field(ge=0)
    leaf: str = Field(description="base64 leaf bytes")
    proof: list[str] = Field(max_length=64)


class BundleFile(_Strict):
    format: Literal["medledger-bundle/v1"]
    origin: str
    log_key: str = Field(description="informational; auditors bring their own key")
    checkpoint: str = Field(description="C2SP signed checkpoint note")
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    leaves: list[str] = Field(description="base64 canonical leaf bytes, [start, end)")
    outside: list[OutsideNode]
    prev_leaf: PrevLeaf | None
    prior_keys: list[PriorKey]
    # Optional side data (``bundle export --grids``), omitted (never null) when not exported.
    grids: dict[str, str] | None = Field(
        default=None,
        description="near-duplicate descriptor grids (base64) of the range's images, keyed by "
        "the grid SHA-256 their signed leaves name; side data, checked against those digests",
        json_schema_extra=_omitted_not_null,
    )
