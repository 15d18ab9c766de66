"""Body of image.derived: one image made from another by ordered preprocessing steps.

Parent and child are named twice: by the entry index of their image.registered entry and
by both digests of that entry (file and pixel SHA-256), so a reader holding the leaves
checks the body against the registrations without trusting any table, and the sequencer
and ``verify`` refuse a body whose digests are not those of the entries it names
(``ledger.audit.derivationrules``). ``inferred`` edges were read from a DICOM header
(Source Image Sequence) at registration: their steps are the Derivation Code Sequence's
codes, kept as ``codes``, and may be empty.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledger.model.entry import HEX64
from ledger.model.kinds import kind
from ledger.model.projection import Change, Insert, Projection
from ledger.model.roles import Role
from ledger.model.vocabulary import Step, Text

MAX_STEPS = 64
MAX_CODES = 32
CODE_PATTERN = r"^[A-Za-z0-9?._-]{1,16}:[A-Za-z0-9._-]{1,16}$"  # "DCM:113040"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ImageRef(_Strict):
    """An image as registered: its image.registered entry and that entry's digests."""

    index: int = Field(ge=0, le=2**62, description="entry index of its image.registered")
    file_sha256: str = Field(pattern=HEX64)
    pixel_sha256: str = Field(pattern=HEX64)


class Software(_Strict):
    name: Text
    version: Text | None = None


class ImageDerived(_Strict):
    parent: ImageRef
    child: ImageRef
    steps: list[Step] = Field(max_length=MAX_STEPS, description="in the order applied")
    software: Software | None = None
    inferred: bool = Field(description="true: read from the child's DICOM header")
    codes: list[Annotated[str, Field(pattern=CODE_PATTERN)]] = Field(
        default_factory=list, max_length=MAX_CODES,
        description="Derivation Code Sequence codes (SCHEME:VALUE) of an inferred edge",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ImageDerived:
        if self.parent.index == self.child.index:
            raise ValueError("an image is not derived from itself")
        if not self.inferred and not self.steps:
            raise ValueError("a declared derivation lists at least one step")
        if self.codes and not self.inferred:
            raise ValueError("codes are those of an inferred edge's DICOM header")
        return self


KINDS = (
    kind("image.derived", ImageDerived, roles=(Role.CURATOR, Role.SUBMITTER),
         description="an image derived from a registered image by preprocessing steps"),
)


def _image_derived(index: int, entry: dict[str, Any]) -> list[Change]:
    body = entry["body"]
    return [Insert("derivations", {
        "idx": index,
        "parent": body["parent"]["index"],
        "child": body["child"]["index"],
        "inferred": body["inferred"],
    })]


PROJECTIONS: dict[str, Projection] = {"image.derived": _image_derived}
