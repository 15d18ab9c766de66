"""Body of image.registered: who registered the image, under what terms, and its facts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger.model.entry import HEX64
from ledger.model.kinds import register_kind
from ledger.model.origin import CONSENT_STATUSES
from ledger.model.roles import Role

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._:/@+-]{0,127}$"
MAX_FRAMES_LISTED = 512  # keeps a multi-frame entry well under the 64 KiB entry limit


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


DUP_GRID = "dup-grid"
HEX16 = "^[0-9a-f]{16}$"


class DupGridReference(_Strict):
    """The near-duplicate index keys and the digest of the grid they come from."""

    alg: Literal["dup-grid"]
    v: Literal[1]
    keys: list[Annotated[str, Field(pattern=HEX16)]] = Field(min_length=6, max_length=6)
    grid_sha256: str = Field(pattern=HEX64)


class ImageFacts(_Strict):
    """What analysing the file found: digests, allowlisted metadata, status, fingerprints.

    No value here identifies anyone: identifying attributes are named, never quoted,
    and UIDs and subject ids appear only as keyed pseudonyms."""

    v: Literal[1]
    file_sha256: str = Field(pattern=HEX64)
    file_size: int = Field(ge=0)
    format: Literal["dicom", "png", "jpeg", "tiff", "bmp", "webp"]
    pixel_sha256: str = Field(pattern=HEX64)
    pixel_form: str = Field(max_length=64)
    frame_sha256: list[str] = Field(max_length=MAX_FRAMES_LISTED)
    metadata: dict[str, Any]
    deid: dict[str, Any]
    pseudonyms: dict[str, Any] | None
    fingerprints: dict[str, Any]
    preamble: str | None

    @field_validator("fingerprints")
    @classmethod
    def _dup_grid_reference(cls, value: dict[str, Any]) -> dict[str, Any]:
        if DUP_GRID in value:
            DupGridReference.model_validate(value[DUP_GRID])
        return value


class ImageRegistered(_Strict):
    source: str = Field(pattern=NAME_PATTERN, description="registering repository or site")
    license: str = Field(max_length=200, description="SPDX licence expression")
    consent: str = Field(pattern="^(" + "|".join(CONSENT_STATUSES) + ")$")
    dataset: str | None = Field(default=None, pattern=NAME_PATTERN)
    image: ImageFacts


IMAGE_REGISTERED = register_kind(
    "image.registered",
    ImageRegistered,
    roles=(Role.CURATOR, Role.SUBMITTER),
    description="an image's signed origin: source, licence, consent and fingerprints",
)
