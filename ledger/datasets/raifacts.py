"""Croissant RAI fields of a dataset version, each sentence computed from signed facts.

Nothing here is free text a curator typed: de-identification method codes and retained
attributes come from the members' image.registered leaves, preprocessing terms from the
image.derived leaves that made members, biases from the profile (small cells withheld), the
limitations from the version entry's ``withdrawn`` list. A field without facts is left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.datasets.profile import SMALL_CELL, Profile
from ledger.model.vocabulary import DEID_OPTIONS

_DEID_CODES = {"113100": "Basic Application Confidentiality Profile", **DEID_OPTIONS}


@dataclass(frozen=True)
class Member:
    """What RAI needs of one member: its registration body and entry time."""

    body: dict[str, Any]
    time: str


def _count(n: int) -> str:
    return f"<{SMALL_CELL}" if n < SMALL_CELL else str(n)


def _deidentification(members: list[Member]) -> list[str]:
    codes: Counter[str] = Counter()
    removed = 0
    for m in members:
        deid = m.body["image"].get("deid") or {}
        codes.update(str(c) for c in deid.get("method_codes") or ())
        removed += deid.get("patient_identity_removed") is True
    total = len(members)
    out = [f"De-identification method code {code} ({_DEID_CODES.get(code, 'unlisted code')}, "
           f"DICOM CID 7050): {_count(n)} of {total} members"
           for code, n in sorted(codes.items())]  # fmt: skip
    if removed:
        out.append(f"Patient Identity Removed (0012,0062) YES: {_count(removed)} of {total} "
                   "members")
    return out


def _preprocessing(terms: Mapping[str, int]) -> list[str]:
    return [f"Preprocessing step '{term}' (medledger derivation vocabulary): "
            f"{_count(n)} members derived with it" for term, n in sorted(terms.items())]


def _retained(members: list[Member], demographics: int) -> list[str]:
    kept: Counter[str] = Counter()
    pseudonymised: Counter[str] = Counter()
    for m in members:
        image = m.body["image"]
        kept.update(k for k, v in (image.get("metadata") or {}).items() if v not in (None, ""))
        pseudonymised.update(k for k in (image.get("pseudonyms") or {}) if k != "Demographics")
    out = []
    if kept:
        out.append("Retained attributes (the registration allowlist, members recording each): "
                   + ", ".join(f"{k} {_count(n)}" for k, n in sorted(kept.items())))
    if pseudonymised:
        out.append("Identifiers kept only as keyed pseudonyms: "
                   + ", ".join(f"{k} {_count(n)}" for k, n in sorted(pseudonymised.items())))
    if demographics:
        out.append(f"Sex and age band kept for {_count(demographics)} members: a salted "
                   "commitment in the signed entry, the values in a deletable side table")
    return out


def _biases(found: Profile) -> list[str]:
    out = []
    total = found.members
    for attribute in found.attributes:
        label = attribute.name.replace("_", " ")
        missing = f"not recorded for {attribute.missing / total:.1%} of members" if total else ""
        if not attribute.cells:
            out.append(f"{label}: {missing}")
            continue
        top = attribute.cells[0]
        largest = (f"largest value {top.value!r} {top.count / total:.1%} of members"
                   if top.count >= SMALL_CELL else f"largest value under {SMALL_CELL} members")
        out.append(f"{label}: {len(attribute.cells)} distinct value(s), {largest}, {missing}")
    return out


def _time_frame(members: Iterable[Member]) -> list[str]:
    times = sorted(m.time for m in members)
    return [times[0], times[-1]] if times else []


def rai_fields(*, members: list[Member], found: Profile, terms: Mapping[str, int],
               demographics: int, withdrawn: int, sources: list[str]
               ) -> dict[str, Any]:  # fmt: skip
    """The ``rai:`` properties of the export; ``terms`` counts preprocessing steps over the
    derivations that made members, ``demographics`` the members whose kept sex and age band
    opened, ``withdrawn`` the previous version's members left out for withdrawn consent."""
    fields: dict[str, Any] = {
        "rai:dataCollection": (f"{len(members)} images, each registered with a signed "
                               f"image.registered entry by the source(s) {', '.join(sources)}"),
        "rai:dataCollectionTimeFrame": _time_frame(members),
        "rai:dataPreprocessingProtocol": _deidentification(members) + _preprocessing(terms),
        "rai:personalSensitiveInformation": _retained(members, demographics),
        "rai:dataBiases": _biases(found),
    }
    if withdrawn:
        fields["rai:dataLimitations"] = [
            f"{withdrawn} members of the previous version were left out because their consent "
            "was withdrawn"]
    return {k: v for k, v in fields.items() if v}
