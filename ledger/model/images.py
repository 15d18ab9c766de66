"""Body of image.registered: who registered the image, under what terms, and its facts."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from ledger.log.hashing import leaf_hash
from ledger.log.tree import root_of_leaf_hashes
from ledger.model.consent import image_consent_row
from ledger.model.entry import HEX64
from ledger.model.kinds import kind
from ledger.model.origin import CONSENT_STATUSES, DATASET_PATTERN, NAME_PATTERN
from ledger.model.projection import Change, Insert, Projection
from ledger.model.roles import Role
from ledger.model.screening import ScreeningRecord

# Per-frame digests are listed for images of up to this many frames (keeps an entry well under
# the 64 KiB entry limit); every multi-frame image, of any frame count, has a frame_tree.
MAX_FRAMES_LISTED = 512
FRAME_TREE_ALG = "rfc9162-sha256"
_FRAMES_OF_FORM = re.compile(r"^\S+ (\d+)x\d+x\d+x\d+$")  # pixel_form: "<i2 600x64x64x1"


# metadata.withheld: keywords (DICOM or EXIF) whose free text was not written.
_KEYWORD = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
_MAX_WITHHELD = 32
_WITHHELD_SCHEMA: JsonDict = {
    "type": "array",
    "items": {"type": "string", "pattern": _KEYWORD.pattern},
    "minItems": 1,
    "maxItems": _MAX_WITHHELD,
    "uniqueItems": True,
    "description": "attributes whose free text may identify someone: named, never quoted",
}


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


def _omitted_not_null(schema: dict[str, Any]) -> None:
    """Schema of an optional field that is omitted when absent, never null."""
    schema.pop("default", None)
    variants = [v for v in schema.pop("anyOf", ()) if v != {"type": "null"}]
    if len(variants) != 1:
        raise ValueError(f"expected one non-null variant, got {variants}")
    schema.update(variants[0])


class FrameTree(_Strict):
    """The RFC 9162 Merkle tree over a multi-frame image's per-frame digests.

    Leaf ``i`` is SHA-256(0x00 || the 32 bytes of frame ``i``'s digest), interior nodes
    SHA-256(0x01 || left || right): the log's own tree hash, so a frame's inclusion proof
    is an ordinary RFC 9162 inclusion proof of size ``count``."""

    alg: Literal["rfc9162-sha256"]
    count: int = Field(ge=2, le=2**31 - 1, description="number of frames (tree size)")
    root: str = Field(pattern=HEX64, description="hex Merkle tree hash over the frame digests")


# Frame descriptors an entry may list (the policy, ledger/imaging/framegrids.py, writes 31
# at most; the room above it lets the policy grow without a new entry version).
MAX_FRAME_GRIDS = 127


class FrameGrid(_Strict):
    """The near-duplicate keys and grid digest of one more frame of a multi-frame image."""

    frame: int = Field(ge=0, le=2**31 - 1, description="0-based frame number")
    descriptor: DupGridReference


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
    frame_sha256: list[Annotated[str, Field(pattern=HEX64)]] = Field(
        max_length=MAX_FRAMES_LISTED,
        description=f"per-frame digests, listed when there are at most {MAX_FRAMES_LISTED} frames",
    )
    # Absent (never null) for single-frame images and in entries made before it existed.
    frame_tree: FrameTree | None = Field(
        default=None,
        description="multi-frame images: frame count and Merkle root; absent otherwise",
        json_schema_extra=_omitted_not_null,
    )
    # Multi-frame images registered since issue 21: the other described frames' descriptors
    # (the middle frame's is fingerprints["dup-grid"]). Absent (never null) otherwise.
    frame_grids: list[FrameGrid] | None = Field(
        default=None,
        max_length=MAX_FRAME_GRIDS,
        description="multi-frame images: near-duplicate keys of frames other than the middle one",
        json_schema_extra=_omitted_not_null,
    )
    metadata: dict[str, Any] = Field(
        description="allowlisted header values; `withheld` names those not written",
        json_schema_extra={"properties": {"withheld": _WITHHELD_SCHEMA}},
    )
    deid: dict[str, Any]
    pseudonyms: dict[str, Any] | None
    fingerprints: dict[str, Any]
    preamble: str | None
    # Absent (never null) when the screening did not run, and in entries made before it existed.
    screening: ScreeningRecord | None = Field(
        default=None,
        description="forensic screening at registration: signals, scores, level, version",
        json_schema_extra=_omitted_not_null,
    )

    @field_validator("metadata")
    @classmethod
    def _withheld_names_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        withheld = value.get("withheld")
        if withheld is None:
            return value
        ok = isinstance(withheld, list) and 0 < len(withheld) <= _MAX_WITHHELD
        if not ok or not all(isinstance(w, str) and _KEYWORD.fullmatch(w) for w in withheld):
            raise ValueError("metadata.withheld must list attribute keywords, never values")
        if withheld != sorted(set(withheld)):
            raise ValueError("metadata.withheld must be sorted and without repeats")
        if set(withheld) & value.keys():
            raise ValueError("a withheld attribute's value must not be written")
        return value

    @field_validator("fingerprints")
    @classmethod
    def _dup_grid_reference(cls, value: dict[str, Any]) -> dict[str, Any]:
        if DUP_GRID in value:
            DupGridReference.model_validate(value[DUP_GRID])
        return value

    @model_validator(mode="after")
    def _screening_not_null(self) -> ImageFacts:
        if self.screening is None and "screening" in self.model_fields_set:
            raise ValueError("screening is omitted, never null")
        return self

    @model_validator(mode="after")
    def _frame_grids_agree(self) -> ImageFacts:
        grids = self.frame_grids
        if grids is None:
            if "frame_grids" in self.model_fields_set:
                raise ValueError("frame_grids is omitted, never null")
            return self
        if self.frame_tree is None or DUP_GRID not in self.fingerprints:
            raise ValueError("frame_grids needs frame_tree and fingerprints.dup-grid")
        frames = [g.frame for g in grids]
        if frames != sorted(set(frames)):
            raise ValueError("frame_grids must be in frame order, each frame once")
        count = self.frame_tree.count
        if frames and frames[-1] >= count:
            raise ValueError(f"frame_grids names frame {frames[-1]} of a {count}-frame image")
        if count // 2 in frames:
            raise ValueError("the middle frame's descriptor is fingerprints.dup-grid, not listed")
        return self

    @model_validator(mode="after")
    def _frames_agree(self) -> ImageFacts:
        tree = self.frame_tree
        shape = _FRAMES_OF_FORM.fullmatch(self.pixel_form)
        if tree is None:
            if "frame_tree" in self.model_fields_set:
                raise ValueError("frame_tree is omitted, never null")
            if shape is not None and int(shape.group(1)) > 1 and not self.frame_sha256:
                raise ValueError(
                    f"a {shape.group(1)}-frame image needs frame_tree or listed frame digests"
                )
            return self  # single-frame, or an entry from before frame_tree: frames as listed
        if shape is not None and int(shape.group(1)) != tree.count:
            raise ValueError(
                f"frame_tree.count is {tree.count} but pixel_form has {shape.group(1)} frames"
            )
        listed = self.frame_sha256
        if tree.count > MAX_FRAMES_LISTED:
            if listed:
                raise ValueError(
                    f"frame_sha256 must be empty above {MAX_FRAMES_LISTED} frames, "
                    f"got {len(listed)} for {tree.count}"
                )
            return self
        if len(listed) != tree.count:
            raise ValueError(
                f"frame_sha256 lists {len(listed)} digests for {tree.count} frames "
                f"(all are listed up to {MAX_FRAMES_LISTED})"
            )
        calculated = root_of_leaf_hashes([leaf_hash(bytes.fromhex(d)) for d in listed]).hex()
        if calculated != tree.root:
            raise ValueError(
                f"frame_tree.root {tree.root} does not match the listed frame digests "
                f"(calculated {calculated})"
            )
        return self


class ImageRegistered(_Strict):
    source: str = Field(pattern=NAME_PATTERN, description="registering repository or site")
    license: str = Field(max_length=200, description="SPDX licence expression")
    consent: str = Field(pattern="^(" + "|".join(CONSENT_STATUSES) + ")$")
    dataset: str | None = Field(
        default=None, pattern=DATASET_PATTERN, description="dataset label: NAME or NAME@VERSION"
    )
    image: ImageFacts


KINDS = (
    kind("image.registered", ImageRegistered, roles=(Role.CURATOR, Role.SUBMITTER),
         description="an image's signed origin: source, licence, consent and fingerprints"),
)


def pack_keys(hex_keys: list[str]) -> bytes:
    """Index keys as stored: little-endian uint64s."""
    return b"".join(int(k, 16).to_bytes(8, "little") for k in hex_keys)


def _image_registered(index: int, entry: dict[str, Any]) -> list[Change]:
    body = entry["body"]
    image = body["image"]
    reference = image["fingerprints"].get(DUP_GRID)
    return [Insert("images", {
        "idx": index,
        "file_sha256": image["file_sha256"],
        "pixel_sha256": image["pixel_sha256"],
        "source": body["source"],
        "dataset": body.get("dataset"),
        "license": body["license"],
        "consent": body["consent"],
        "format": image["format"],
        "registered": entry["time"],
        "dup_keys": pack_keys(reference["keys"]) if reference else None,
        "grid_sha256": reference["grid_sha256"] if reference else None,
    }), image_consent_row(index, image), *_sop_uid(index, image), *_frame_keys(index, image)]


def _frame_keys(index: int, image: dict[str, Any]) -> list[Change]:
    """frame_keys rows of a multi-frame image registered with frame_grids: its middle frame
    (the image's own keys) and each listed frame, so the index holds one row per frame."""
    grids = image.get("frame_grids")
    if grids is None:
        return []
    middle = {
        "frame": image["frame_tree"]["count"] // 2,
        "descriptor": image["fingerprints"][DUP_GRID],
    }
    return [
        Insert("frame_keys", {
            "idx": index,
            "frame": g["frame"],
            "dup_keys": pack_keys(g["descriptor"]["keys"]),
            "grid_sha256": g["descriptor"]["grid_sha256"],
        })
        for g in sorted([*grids, middle], key=lambda g: int(g["frame"]))
    ]


def _sop_uid(index: int, image: dict[str, Any]) -> list[Change]:
    """The image_uids row of a DICOM image with a SOP Instance UID pseudonym (lineage)."""
    uid = (image.get("pseudonyms") or {}).get("SOPInstanceUID")
    return [Insert("image_uids", {"idx": index, "sop_uid": uid})] if isinstance(uid, str) else []


PROJECTIONS: dict[str, Projection] = {"image.registered": _image_registered}
