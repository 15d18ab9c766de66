"""The facts a profile and a Croissant export of a dataset version are made of.

Each member's image.registered leaf is read and its hash recomputed; sex and age band count
only where a ``subject_demographics`` row opens the commitment the member's signed entry holds
(or the entry itself states them, as entries made before commitments do); preprocessing terms
come from the hashed image.derived leaves whose child is a member. ``service.datasets`` calls
these with a version it has already checked against its signed root.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from ledger.consent import scope
from ledger.consent.subjects import demographics_commitment
from ledger.datasets import croissant as croissant_doc
from ledger.datasets.profile import Profile, profile
from ledger.datasets.raifacts import Member, rai_fields
from ledger.errors import VerificationError
from ledger.log.hashing import leaf_hash
from ledger.service.ledger import Ledger
from ledger.store import reading
from ledger.store.consent import demographics_of
from ledger.store.datasets import leaves_at
from ledger.store.derivations import edges_to


def duo_codes(given: Iterable[str]) -> list[str]:
    """DUO codes given to ``dataset create --duo``, sorted."""
    return scope.duo_codes(given, option="--duo")


def _checked_entries(conn: Connection, indexes: Sequence[int]) -> dict[int, dict[str, Any]]:
    """index -> entry of each leaf, its stored hash recomputed."""
    out = {}
    for index, leaf, stored in leaves_at(conn, indexes):
        if leaf_hash(leaf) != stored:
            raise VerificationError("stored leaf does not hash to its leaf hash", index=index)
        out[index] = orjson.loads(leaf)["envelope"]["entry"]
    return out


def _opened(conn: Connection, bodies: Iterable[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """commitment -> {PatientSex?, PatientAgeBand?} for every row that opens its commitment;
    a row that does not is tamper (verify names it too)."""
    commitments = {c for b in bodies
                   if isinstance(c := (b["image"].get("pseudonyms") or {}).get("Demographics"),
                                 str)}  # fmt: skip
    out = {}
    for commitment, salt, sex, age_band in demographics_of(conn, commitments):
        values = {k: v for k, v in (("PatientAgeBand", age_band), ("PatientSex", sex))
                  if v is not None}
        try:
            opened = demographics_commitment(salt, values)
        except ValueError:
            opened = ""
        if opened != commitment:
            raise VerificationError("subject_demographics: a row does not open its commitment "
                                    "(tampered); medledger verify names the entry")
        out[commitment] = values
    return out


@dataclass(frozen=True)
class Facts:
    """A version's members as their leaves say, with the demographics that opened."""

    entries: dict[int, dict[str, Any]]
    opened: dict[str, dict[str, str]]

    def bodies(self) -> list[dict[str, Any]]:
        return [e["body"] for e in self.entries.values()]


def gather(ledger: Ledger, entries: Sequence[int]) -> Facts:
    with reading(ledger.store.engine) as conn:
        found = _checked_entries(conn, entries)
        for index, entry in found.items():
            if entry.get("kind") != "image.registered":
                raise VerificationError("a member is not an image.registered entry", index=index)
        return Facts(found, _opened(conn, (e["body"] for e in found.values())))


def profile_of(label: str, facts: Facts) -> Profile:
    return profile(label, facts.bodies(), facts.opened)


def derivation_terms(ledger: Ledger, entries: Sequence[int]) -> dict[str, int]:
    """term -> members made by a declared derivation using it (each member once per term)."""
    with reading(ledger.store.engine) as conn:
        edges = edges_to(conn, entries)
        derived = _checked_entries(conn, [e[0] for e in edges])
    members: dict[str, set[int]] = {}
    for index, entry in derived.items():
        if entry.get("kind") != "image.derived":
            raise VerificationError("a derivations row points at another kind of entry",
                                    index=index)
        child = entry["body"]["child"]["index"]
        for step in entry["body"]["steps"]:
            members.setdefault(str(step["term"]), set()).add(child)
    return {term: len(children) for term, children in members.items()}


def croissant(ledger: Ledger, *, name: str, version: int, published: str,
              previous: int | None, duo: list[str], withdrawn: int,
              records: list[dict[str, Any]], manifest_name: str
              ) -> tuple[dict[str, Any], bytes]:  # fmt: skip
    """The Croissant JSON-LD of a checked version's ``records`` and its manifest CSV."""
    entries = [r["entry"] for r in records]
    facts = gather(ledger, entries)
    bodies = facts.bodies()
    found = profile_of(f"{name}@{version}", facts)
    demographics = sum(1 for b in bodies
                       if (b["image"].get("pseudonyms") or {}).get("Demographics")
                       in facts.opened)  # fmt: skip
    sources = sorted({str(b["source"]) for b in bodies})
    rai = rai_fields(members=[Member(e["body"], e["time"]) for e in facts.entries.values()],
                     found=found, terms=derivation_terms(ledger, entries),
                     demographics=demographics, withdrawn=withdrawn, sources=sources)
    data = croissant_doc.manifest(records)
    doc = croissant_doc.document(
        name=name, version=version, members=len(records), origin=ledger.origin,
        published=published, licenses=sorted({str(b["license"]) for b in bodies}),
        manifest_name=manifest_name, manifest_bytes=data, previous=previous, sources=sources,
        duo=duo, rai=rai)
    return doc, data
