"""De-identification status of a DICOM header: names of identifying attributes, never values.

An attribute of PS3.15 Annex E Table E.1-1 (:mod:`ledger.imaging.annex_e`),
anywhere in the data set (sequence items included), counts as *identifying
present* when it has a non-empty value, except:

* UIDs (action U, and the U* sequences Referenced/Source Image Sequence): the
  profile replaces them, so a value says nothing; the ledger stores them only as
  keyed pseudonyms (:mod:`ledger.imaging.pseudonym`).
* Attributes that an option declared in De-identification Method Code Sequence
  lets the de-identifier keep or clean (e.g. dates under 113106/113107, sex and
  age under 113108, device identity under 113109).
* When Patient Identity Removed is YES, attributes whose action allows a
  replacement value (D, Z and any combination with them: X/Z, X/D, Z/D,
  X/Z/D): a de-identifier may legitimately leave a dummy there, and a dummy
  cannot be told from a real value. Only pure-X attributes (to be removed,
  never replaced) still count.

Without Patient Identity Removed = YES every non-empty listed attribute
counts. Private attributes (odd groups) are reported only as a flag: the Basic
Profile removes them, the Retain Safe Private option keeps some, and their
meaning is unknowable; they never enter the ledger either way.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from ledger.imaging.annex_e import BY_TAG, REPEATING, ProfileAttribute
from ledger.imaging.attrs import SEQUENCE_TAGS, items, texts, value

_MAX_DEPTH = 16


@dataclass(frozen=True)
class DeidStatus:
    patient_identity_removed: bool | None  # (0012,0062): YES -> True, NO -> False
    method: str | None  # (0012,0063) De-identification Method, printable, bounded
    method_codes: tuple[str, ...]  # (0012,0064) code values, e.g. "113100", sorted
    identifying_present: tuple[str, ...]  # keywords, sorted
    private_tags_present: bool = False

    @property
    def deidentified(self) -> bool:
        return self.patient_identity_removed is True and not self.identifying_present

    def to_json(self) -> dict[str, Any]:
        return {
            "patient_identity_removed": self.patient_identity_removed,
            "method": self.method,
            "method_codes": list(self.method_codes),
            "identifying_present": list(self.identifying_present),
            "private_tags_present": self.private_tags_present,
        }


def deid_status(ds: Dataset) -> DeidStatus:
    """Inspect ``ds`` (values are read, never returned)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        removed = _identity_removed(ds)
        codes = _method_codes(ds)
        found: set[str] = set()
        private = _walk(ds, removed is True, frozenset(codes), found, depth=0)
        return DeidStatus(
            patient_identity_removed=removed,
            method=_method(ds),
            method_codes=tuple(sorted(codes)),
            identifying_present=tuple(sorted(found)),
            private_tags_present=private,
        )


def _walk(ds: Dataset, removed: bool, options: frozenset[str], found: set[str], depth: int) -> bool:
    private = False
    for key in list(ds.keys()):
        tag = int(key)
        if (tag >> 16) & 1:
            private = True
            continue
        attribute = _profile_attribute(tag)
        if attribute is not None and _counts(attribute, removed, options) and _non_empty(ds, tag):
            found.add(attribute.keyword)
        if depth < _MAX_DEPTH and tag in SEQUENCE_TAGS:
            for item in _items(ds, tag):
                private = _walk(item, removed, options, found, depth + 1) or private
    return private


def _profile_attribute(tag: int) -> ProfileAttribute | None:
    found = BY_TAG.get(tag)
    if found is not None:
        return found
    group, element = tag >> 16, tag & 0xFFFF
    if not 0x5000 <= group <= 0x60FF:
        return None
    for attribute in REPEATING:
        in_range = attribute.group <= group <= attribute.group + 0xFF and group % 2 == 0
        if in_range and attribute.element in (-1, element):
            return attribute
    return None


def _counts(attribute: ProfileAttribute, removed: bool, options: frozenset[str]) -> bool:
    action = attribute.action
    if "U" in action:
        return False
    if attribute.options & options:
        return False
    return not (removed and action != "X")


def _non_empty(ds: Dataset, tag: int) -> bool:
    try:
        raw = ds.get_item(tag)
    except Exception:
        return True  # unreadable: fail closed
    if isinstance(raw, RawDataElement) and tag not in SEQUENCE_TAGS:
        # Not converted yet: judge the raw bytes (cheaper, and never fails).
        return raw.value is not None and bool(bytes(raw.value).strip(b"\x00 "))
    try:
        found = ds[tag].value
    except Exception:
        return True
    return _has_value(found)


def _has_value(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bytes | bytearray):
        return bool(bytes(value).strip(b"\x00 "))
    if isinstance(value, str):
        return bool(value.strip("\x00 "))
    if isinstance(value, list | tuple) or type(value).__name__ in ("MultiValue", "Sequence"):
        return any(_has_value(v) if not isinstance(v, Dataset) else len(v) > 0 for v in value)
    return bool(str(value).strip("\x00 ^="))


def _items(ds: Dataset, tag: int) -> list[Dataset]:
    try:
        return [item for item in ds[tag].value if isinstance(item, Dataset)]
    except Exception:  # not a readable sequence (e.g. VR UN): nothing to walk into
        return []


def _identity_removed(ds: Dataset) -> bool | None:
    flag = (texts(ds, "PatientIdentityRemoved") or [""])[0].upper()
    return {"YES": True, "NO": False}.get(flag)


def _method(ds: Dataset) -> str | None:
    found = value(ds, "DeidentificationMethod")
    if found is None:
        return None
    parts = [found] if isinstance(found, str | bytes) else list(found)
    cleaned = ["".join(c for c in str(p) if c.isprintable()).strip()[:64] for p in parts]
    text = "\\".join(p for p in cleaned if p)
    return text[:256] or None


def _method_codes(ds: Dataset) -> set[str]:
    codes: set[str] = set()
    for item in items(ds, "DeidentificationMethodCodeSequence"):
        code = (texts(item, "CodeValue") or [""])[0]
        if code and len(code) <= 16 and code.isprintable():
            codes.add(code)
    return codes
