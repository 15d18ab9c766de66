"""The lock file (medledger.lock): a pinned dataset version that a copy is checked against.

Everything in it is proven offline with the log's public key alone: the version's leaf is
bound by an RFC 9162 inclusion proof to a signed checkpoint (one C2SP tlog-proof), and the
member records hash to the ``members_root`` that leaf signs. ``ledger.datasets.lock``
writes and opens it; the file is in one canonical layout, so any edited byte is found.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger.model.datasets import DATASET_NAME_PATTERN, MAX_VERSION, MemberRecord

LOCK_FORMAT = "medledger.lock/v1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class LockLog(_Strict):
    origin: str = Field(min_length=1, max_length=256, description="the log's checkpoint origin")
    verifier_key: str = Field(
        min_length=1, max_length=512, description="the log's signed-note verifier key"
    )


class LockDataset(_Strict):
    name: str = Field(pattern=DATASET_NAME_PATTERN)
    version: int = Field(ge=1, le=MAX_VERSION)


class LockEntry(_Strict):
    index: int = Field(ge=0, description="log index of the dataset.versioned entry")
    leaf: dict[str, Any] = Field(
        description="the entry's leaf {envelope, prev}; its RFC 8785 bytes are what is hashed"
    )


class LockFile(_Strict):
    """A pinned dataset version (medledger dataset pin)."""

    lock: Literal["medledger.lock/v1"]
    log: LockLog
    dataset: LockDataset
    entry: LockEntry
    proof: str = Field(
        max_length=16_384,
        description="C2SP tlog-proof of the entry: index, inclusion proof, signed checkpoint",
    )
    members: list[MemberRecord] = Field(description="member records, sorted by entry index")
    paths: Literal["omitted"] | None = Field(
        default=None,
        description="present for a controlled version: its member records name no files, "
        "a copy is matched by digest; absent otherwise",
    )
