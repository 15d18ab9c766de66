"""The facts a profile and a Croissant export of a dataset version are made of.

Each member's image.registered leaf is read and its hash recomputed; sex and age band count
only where a ``subject_demographics`` row opens the commitment the member's signed entry holds
(or the entry itself states them, as entries made before commitments do); preprocessing terms
come from the hashed image.derived leaves whose child is a member. ``service.datasets`` calls
these with a version it has already checked against its signed root.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from ledger.consent import scope
from ledger.datasets import croissant as croissant_doc
from ledger.datasets.memberroot import root_of_rows
from ledger.datasets.profile import Profile
from ledger.datasets.profilechild import ProfileChild
from ledger.datasets.profiletally import Tally, profile
from ledger.datasets.profileworker import opening, tally_leaves
from ledger.datasets.raifacts import Member, rai_fields
from ledger.errors import InputError, VerificationError
from ledger.log.hashing import leaf_hash
from ledger.service.ledger import Ledger
from ledger.store import reading
from ledger.store.datasets import leaves_at
from ledger.store.derivations import edges_to
from ledger.store.profilerows import demographics_rows, member_tuples

SPLIT_FROM = 20_000  # members; below, starting a process costs more than it saves
# percent of the members the child counts: it starts while the command checks the member list
CHILD_SHARE = 60


def duo_codes(given: Iterable[str]) -> list[str]:
    """DUO codes given to ``dataset create --duo``, sorted."""
    return scope.duo_codes(given, option="--duo")


def _checked_entries(conn: Connection, indexes: Sequence[int]) -> dict[int, dict[str, Any]]:
    """index -> entry of each leaf, its stored hash recomputed."""
    out = {}
    for index, leaf, stored in leaves_at(conn, indexes):
        if not isinstance(leaf, bytes) or leaf_hash(leaf) != stored:  # text: an edited row
            raise VerificationError("stored leaf does not hash to its leaf hash", index=index)
        out[index] = orjson.loads(leaf)["envelope"]["entry"]
    return out


def _opened(conn: Connection, bodies: Iterable[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """commitment -> {PatientSex?, PatientAgeBand?} for every row that opens its commitment;
    a row that does not is tamper (verify names it too)."""
    return _opened_commitments(conn, {
        c for b in bodies
        if isinstance(c := (b["image"].get("pseudonyms") or {}).get("Demographics"), str)})


def _opened_commitments(conn: Connection, commitments: set[str]
                        ) -> dict[str, dict[str, str]]:  # fmt: skip
    return {commitment: {k: v for k, v in (("PatientAgeBand", age_band), ("PatientSex", sex))
                         if v is not None}
            for commitment, sex, age_band in opening(demographics_rows(conn, commitments))}


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


def profile_version(ledger: Ledger, label: str, *, index: int, members: int, members_root: str,
                    split_from: int | None = None) -> tuple[Profile, list[int]]:  # fmt: skip
    """(profile, member entries) of the checked version entry at ``index``: its member rows
    must hash to ``members_root``; each member leaf is hashed, parsed and counted in one pass,
    keeping nothing of it but counts (100,000 parsed leaves kept alive cost more in garbage
    collection than the parsing). On SQLite with two cores, a child process counts the first
    ``CHILD_SHARE`` percent of them, from the rows as read (used only once they have hashed to
    the root; ``ledger.datasets.profilechild``): from ``SPLIT_FROM`` members when a core is
    idle, or from ``split_from`` members whatever the load."""
    child = _child(ledger, members, split_from)
    try:
        with reading(ledger.store.engine) as conn:
            rows = member_tuples(conn, index)
            cut = len(rows) * CHILD_SHARE // 100 if child is not None else 0
            if child is not None:  # counted while the member list is checked, used only after
                child.send([row[0] for row in rows[:cut]])
            entries = _checked_members(rows, label, index, members, members_root)
            tally = _tally(conn, entries[cut:])
        if child is not None:
            theirs = child.result()
            child = None
            if theirs is None:  # the child failed: count its share here
                with reading(ledger.store.engine) as conn:
                    theirs = _tally(conn, entries[:cut])
            tally.merge(theirs)
    finally:
        if child is not None:
            child.stop()
    return tally.result(label), entries


def _child(ledger: Ledger, members: int, split_from: int | None) -> ProfileChild | None:
    url, cores = ledger.store.engine.url, os.cpu_count() or 1
    if split_from is None and (members < SPLIT_FROM or not _idle_core(cores)):
        return None  # on busy cores the child's start-up and second scan cost more than it saves
    if (split_from is not None and members < split_from) or url.get_backend_name() != "sqlite":
        return None
    if cores < 2:
        return None
    if not url.database or url.database == ":memory:":
        return None
    try:
        return ProfileChild(url.database)
    except OSError:
        return None


def _idle_core(cores: int) -> bool:
    """Whether the 1-minute load average leaves a core free (this command counts about 1)."""
    try:
        return os.getloadavg()[0] < cores - 0.5
    except (AttributeError, OSError):  # no load average on this system
        return False


def _checked_members(rows: list[tuple[Any, ...]], label: str, index: int, members: int,
                     members_root: str) -> list[int]:  # fmt: skip
    """The entry indexes of the stored member rows, which must hash to the signed root."""
    if not rows and members:
        raise InputError(f"dataset {label}: its member list was purged from this ledger "
                         "(the signed root remains)")
    try:
        entries, root = root_of_rows(rows)
    except (TypeError, ValueError):  # a forged row: a string entry, bytes for a digest
        entries, root = [], ""
    if len(rows) != members or root != members_root:
        raise VerificationError(f"dataset {label}: stored member list does not match its "
                                f"signed root {members_root}", index=index)
    return entries


def _tally(conn: Connection, entries: list[int]) -> Tally:
    return tally_leaves(leaves_at(conn, entries), entries,
                        lambda commitments: demographics_rows(conn, commitments))


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
