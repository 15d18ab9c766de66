"""``dataset status NAME@V``: consent since the version, derivatives of withdrawn images among
its members, newer versions, and the members' screening, from checked leaves only.

The version and its member list are checked as ``versions`` and ``pin`` check them; each
member's (and each ancestor's) leaf is hashed against its stored hash; the consent entries
the projections point at are read from their checked leaves and replayed
(``ledger.consent.replay``). The projections only say where to look.
"""

from __future__ import annotations

import json
from typing import Any

from ledger.consent.history import checked_entries
from ledger.consent.replay import ended, subject_of
from ledger.datasets.status import DatasetStatus, Screening
from ledger.errors import VerificationError
from ledger.lineage import graph
from ledger.log.hashing import leaf_hash
from ledger.model.consent import image_target
from ledger.service import datasets
from ledger.service.ledger import Ledger
from ledger.store import consent as consent_db
from ledger.store import reading
from ledger.store.datasets import leaves_at


def _images(ledger: Ledger, indexes: list[int]) -> dict[int, dict[str, Any]]:
    """index -> its image.registered entry, from a leaf with its stored hash."""
    out: dict[int, dict[str, Any]] = {}
    with reading(ledger.store.engine) as conn:
        for index, leaf, stored in leaves_at(conn, indexes):
            if leaf_hash(leaf) != stored:
                raise VerificationError("stored leaf does not hash to its leaf hash", index=index)
            entry = json.loads(leaf)["envelope"]["entry"]
            if entry.get("kind") != "image.registered":
                raise VerificationError("a member or ancestor is not an image registration",
                                        index=index)
            out[index] = entry
    return out


def dataset_status(ledger: Ledger, label: str) -> DatasetStatus:
    v = datasets.version(ledger, label)
    records = datasets.members(ledger, v)
    members = [int(r["entry"]) for r in records]
    ancestors = graph.ancestors(ledger.store, members)
    entries = _images(ledger, members + ancestors)
    subjects = {i: subject_of(e) for i, e in entries.items()}
    named = sorted({s for s in subjects.values() if s is not None})
    with reading(ledger.store.engine) as conn:
        rows = consent_db.events_of(conn, [*map(image_target, subjects), *named])
        erased = consent_db.erased_at(conn, named)
        consent = checked_entries(conn, [r["idx"] for r in rows] + list(erased.values()))
    gone = ended(consent.items(), subjects)
    gone_members = tuple(e for e in gone if e.image in set(members))
    roots = [e.image for e in gone]
    derived = set(graph.descendants(ledger.store, roots)) if roots else set()
    newer = tuple((f"{n.name}@{n.version}", n.index, n.members)
                  for n in datasets.versions(ledger, v.name) if n.version > v.version)
    screening = Screening.of([entries[m]["body"]["image"] for m in members])
    return DatasetStatus(label, v.index, len(members), gone_members,
                         tuple(sorted(derived & set(members))), newer, screening)
