"""Bodies of the dataset access entries, and the ``access_grants`` projection.

* ``dataset.access_granted`` (a ``dac`` key): key ``grantee`` may use dataset ``name`` (one
  ``version``, or every version when null) for ``purpose`` until ``not_after``.
* ``dataset.access_revoked`` (a ``dac`` key): the grant at entry ``grant`` ends here.
* ``dataset.accessed`` (the accessor's own key): ``pin`` or ``export`` of NAME@V for a
  purpose; for a controlled version the grant used, for a registered one the SHA-256 of
  the terms accepted. Open versions need and log nothing.

Who may append which is ``ledger.audit.accessrules``; the bodies only fix the shapes.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger.model.datasets import DATASET_NAME_PATTERN, MAX_VERSION
from ledger.model.entry import HEX64, TIME_PATTERN
from ledger.model.kinds import KindSpec, kind
from ledger.model.projection import Change, Insert, Projection, Update
from ledger.model.roles import Role

GRANTED = "dataset.access_granted"
REVOKED = "dataset.access_revoked"
ACCESSED = "dataset.accessed"
ACCESS_KINDS = frozenset((GRANTED, REVOKED, ACCESSED))

# What an accessor of a `registered` version accepts; its SHA-256 is in the accessed entry.
REGISTERED_TERMS = (
    "medledger registered-access terms v1: I will use this dataset only for the purpose I "
    "declared; I will not try to re-identify any person in it; I will not redistribute it; "
    "I will cite the dataset version I used."
)
TERMS_SHA256 = hashlib.sha256(REGISTERED_TERMS.encode("utf-8")).hexdigest()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class AccessGranted(_Strict):
    """A data-access committee lets one key use a controlled dataset."""

    grantee: str = Field(pattern=HEX64, description="key id of the key granted access")
    name: str = Field(pattern=DATASET_NAME_PATTERN, description="the dataset's name")
    version: int | None = Field(
        ge=1, le=MAX_VERSION, description="the version granted; null for every version"
    )
    purpose: str = Field(min_length=1, max_length=500, description="the purpose granted")
    not_after: str = Field(
        pattern=TIME_PATTERN, description="last instant of validity (entry time format, UTC)"
    )


class AccessRevoked(_Strict):
    """A grant ends: accesses logged after this entry cannot use it."""

    grant: int = Field(ge=0, description="entry index of the dataset.access_granted entry")
    reason: str = Field(default="", max_length=500)


class DatasetAccessed(_Strict):
    """A key pinned or exported a registered or controlled version."""

    accessor: str = Field(pattern=HEX64, description="key id of the accessor (the signer)")
    name: str = Field(pattern=DATASET_NAME_PATTERN)
    version: int = Field(ge=1, le=MAX_VERSION)
    purpose: str = Field(min_length=1, max_length=500)
    what: Literal["pin", "export"]
    grant: int | None = Field(
        ge=0, description="controlled: entry index of the grant used; otherwise null"
    )
    terms_sha256: str | None = Field(
        pattern=HEX64, description="registered: SHA-256 of the terms accepted; otherwise null"
    )


# Grants and revocations are the committee's alone: built without ``kind``, which would let
# admin sign them too (whoever runs the ledger is not the committee).
KINDS = (
    KindSpec(GRANTED, AccessGranted, frozenset({Role.DAC}),
             "a data-access committee grants a key access to a dataset"),
    KindSpec(REVOKED, AccessRevoked, frozenset({Role.DAC}),
             "a data-access committee revokes a grant"),
    kind(ACCESSED, DatasetAccessed, roles=tuple(Role),
         description="a key pinned or exported a registered or controlled dataset version"),
)


def _granted(index: int, entry: dict[str, Any]) -> list[Change]:
    body = entry["body"]
    return [Insert("access_grants", {
        "grant_idx": index,
        "granter": entry["actor"],
        "grantee": body["grantee"],
        "name": body["name"],
        "version": body["version"],
        "purpose": body["purpose"],
        "not_after": body["not_after"],
        "granted": entry["time"],
        "revoked_idx": None,
    })]


def _revoked(index: int, entry: dict[str, Any]) -> list[Change]:
    return [Update("access_grants", {"grant_idx": entry["body"]["grant"]}, {"revoked_idx": index})]


PROJECTIONS: dict[str, Projection] = {GRANTED: _granted, REVOKED: _revoked}
