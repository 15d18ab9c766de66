"""The salted commitment to a subject's sex and age band that an entry carries.

A module of its own, importing nothing heavy, so that a profile's worker process can open
commitments without loading the database layer.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from ledger.model.canonical import canonical_json

_DEMOGRAPHICS_DOMAIN = b"medledger-demographics/v1\x00"


def demographics_commitment(salt: str, values: dict[str, str]) -> str:
    """sha256 over the domain, the salt and the canonical JSON of the values."""
    data = _DEMOGRAPHICS_DOMAIN + bytes.fromhex(salt) + _canonical(tuple(sorted(values.items())))
    return "sha256:" + hashlib.sha256(data).hexdigest()


def row_commitment(salt: str, sex: str | None, age_band: str | None) -> str:
    """``demographics_commitment`` of a subject_demographics row's columns (None: not kept),
    without a dict per row: a profile opens 100,000 rows. ValueError for a salt that is not
    hex or a value that is not a string (an edited row)."""
    if not (isinstance(sex, str | None) and isinstance(age_band, str | None)):
        raise ValueError("demographic values are strings")
    data = _DEMOGRAPHICS_DOMAIN + bytes.fromhex(salt) + _row_values(sex, age_band)
    return "sha256:" + hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=4096)
def _row_values(sex: str | None, age_band: str | None) -> bytes:
    values = (("PatientAgeBand", age_band), ("PatientSex", sex))
    return _canonical(tuple((k, v) for k, v in values if v is not None))


@lru_cache(maxsize=4096)
def _canonical(items: tuple[tuple[str, str], ...]) -> bytes:
    """Few distinct (sex, age band) pairs: a profile opens 100,000 rows with a few dozen."""
    return canonical_json(dict(items))


__all__ = ["demographics_commitment", "row_commitment"]
