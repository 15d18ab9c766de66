"""Body of dataset.versioned, and the member records whose Merkle root it signs.

A dataset version is one signed entry: name, version number, owner key, member count and
the RFC 9162 root over the member records, sorted by entry index. The records themselves
live in a side table (``dataset_members``), not in the log; the entry commits to them, so
``verify`` can prove every list that is present and report an absent one as purged.

A member record is the canonical JSON (RFC 8785) of::

    {"encoding", "entry", "file_sha256", "file_size", "path"?, "pixel_form", "pixel_sha256"}

``encoding`` is the DICOM transfer syntax UID or the file format, ``path`` the file's path
relative to the folder it was versioned from (omitted when not known). Leaf ``i`` of the
tree is SHA-256(0x00 || record ``i``), interior nodes SHA-256(0x01 || left || right): the
log's own hashes, so a member's inclusion proof is an ordinary RFC 9162 proof.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger.log.hashing import leaf_hash
from ledger.log.tree import root_of_leaf_hashes
from ledger.model.entry import HEX64
from ledger.model.kinds import kind
from ledger.model.projection import Change, Insert, Projection
from ledger.model.roles import Role

MEMBERS_ALG = "rfc9162-sha256-jcs"
TIERS = ("open", "registered", "controlled")
# A dataset name: the NAME of a NAME@VERSION label (ledger.model.origin.DATASET_PATTERN).
DATASET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_VERSION = 999_999
MAX_WITHDRAWN_LISTED = 2_000  # keeps the entry well under the 64 KiB envelope limit
PATH_PATTERN = r"^[^/\x00-\x1f\x7f][^\x00-\x1f\x7f]{0,1023}$"
DUO_PATTERN = r"^DUO:[0-9]{7}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class MemberRecord(_Strict):
    """One member of a version, as the root commits to it (and as a lock lists it)."""

    entry: int = Field(ge=0, description="index of the member's image.registered entry")
    file_sha256: str = Field(pattern=HEX64)
    file_size: int = Field(ge=0)
    pixel_sha256: str = Field(pattern=HEX64)
    pixel_form: str = Field(max_length=64)
    encoding: str = Field(
        max_length=64, description="DICOM transfer syntax UID, or the file format"
    )
    path: str | None = Field(
        default=None, pattern=PATH_PATTERN,
        description="path relative to the versioned folder, '/'-separated; absent if unknown",
    )

    def record(self) -> dict[str, Any]:
        """The committed JSON object (``path`` omitted when unknown, never null)."""
        return self.model_dump(exclude_none=True)


def member_leaf(record: dict[str, Any]) -> bytes:
    """The tree leaf hash of one member record.

    A record holds ASCII keys, integers and strings without control characters (the
    model's patterns), for which orjson's sorted compact UTF-8 is RFC 8785 byte for byte
    (a unit test cross-checks it with ``canonical_json``) at a fraction of the cost."""
    return leaf_hash(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))


def members_root(records: Sequence[dict[str, Any]]) -> str:
    """Hex RFC 9162 root over the records, which must be sorted by entry index, no repeats."""
    entries = [r["entry"] for r in records]
    if any(a >= b for a, b in pairwise(entries)):
        raise ValueError("member records must be sorted by entry index, without repeats")
    return root_of_leaf_hashes([member_leaf(r) for r in records]).hex()


class DatasetVersioned(_Strict):
    """A dataset version: its member list's root and where it comes from."""

    name: str = Field(pattern=DATASET_NAME_PATTERN, description="the dataset's name")
    version: int = Field(ge=1, le=MAX_VERSION, description="1 for the first, then +1 each")
    owner: str = Field(pattern=HEX64, description="key id of the dataset's owner")
    tier: Literal["open", "registered", "controlled"] = Field(description="declared use tier")
    members: int = Field(ge=0, description="number of member records")
    members_alg: Literal["rfc9162-sha256-jcs"]
    members_root: str = Field(pattern=HEX64, description="root over the sorted member records")
    previous: int | None = Field(
        description="entry index of the previous version; null for version 1"
    )
    withdrawn: list[Annotated[int, Field(ge=0)]] = Field(
        max_length=MAX_WITHDRAWN_LISTED,
        description="members of the previous version left out because their consent was "
        "withdrawn (entry indexes, sorted); the others left out were removed by the owner",
    )

    duo: list[Annotated[str, Field(pattern=DUO_PATTERN)]] | None = Field(
        default=None, max_length=32,
        description="GA4GH DUO codes the owner declares for the version's use, sorted; absent "
        "when none were declared (docs/decisions.md, 'DUO codes of a dataset version')",
    )

    @field_validator("withdrawn")
    @classmethod
    def _sorted_unique(cls, value: list[int]) -> list[int]:
        if value != sorted(set(value)):
            raise ValueError("withdrawn must be sorted and without repeats")
        return value

    @field_validator("duo")
    @classmethod
    def _sorted_codes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or value != sorted(set(value))):
            raise ValueError("duo must be non-empty, sorted and without repeats")
        return value


KINDS = (
    kind("dataset.versioned", DatasetVersioned, roles=(Role.CURATOR, Role.SUBMITTER),
         description="a dataset version: its owner, use tier and member list root"),
)


def _dataset_versioned(index: int, entry: dict[str, Any]) -> list[Change]:
    body = entry["body"]
    return [Insert("dataset_versions", {
        "idx": index,
        "name": body["name"],
        "version": body["version"],
        "owner": body["owner"],
        "tier": body["tier"],
        "members": body["members"],
        "members_root": body["members_root"],
        "previous": body["previous"],
        "withdrawn": len(body["withdrawn"]),
        "created": entry["time"],
    })]


PROJECTIONS: dict[str, Projection] = {"dataset.versioned": _dataset_versioned}
