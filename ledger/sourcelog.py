"""Source rules against a stored log: the state an append starts from, the audit, the projection.

The rules themselves are :class:`ledger.audit.sourcestate.SourceState`; this module feeds it
from the store. An append replays the (few) source entries and looks up the first use of
the batch's dataset names; the audit replays every relevant leaf in log order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection

from ledger.audit.datasetrules import VERSIONED
from ledger.audit.keystate import KeyState
from ledger.audit.sourcestate import SOURCE_KINDS, SourceState
from ledger.errors import PolicyError, VerificationError
from ledger.model.origin import dataset_name
from ledger.store import Store
from ledger.store.sources import dataset_owners

_KEY_KINDS = ("key.added", "key.revoked")
# The kinds whose entries the rules replay (what the audit's workers keep for them).
RULE_KINDS = frozenset((*_KEY_KINDS, *SOURCE_KINDS, "image.registered", VERSIONED))


def source_state(store: Store, conn: Connection, entries: Iterable[dict[str, Any]]
                 ) -> SourceState:  # fmt: skip
    """The rules' state at the log's tail, with the owners of the datasets ``entries`` use."""
    state, entries = SourceState(), list(entries)
    for index, leaf in store.leaves_of_kinds(conn, (*SOURCE_KINDS, VERSIONED)):
        state.apply(entry=json.loads(leaf)["envelope"]["entry"], index=index)
    names = {
        dataset_name(e["body"]["dataset"])
        for e in entries
        if e.get("kind") == "image.registered" and isinstance(e.get("body"), dict)
        and isinstance(e["body"].get("dataset"), str)
    } | {e["body"]["name"] for e in entries if e.get("kind") == VERSIONED
         and isinstance(e.get("body"), dict) and isinstance(e["body"].get("name"), str)}
    for name, owner in dataset_owners(conn, names).items():  # versions replayed above
        state.owners.setdefault(name, owner)
    return state


def audit_sources(store: Store, conn: Connection) -> int:
    """Replay the source and dataset rules over the whole log; VerificationError at the first
    entry that breaks them. Returns how many image.registered entries were checked.

    Runs after the main audit, which has checked every signature and signer."""
    def entries() -> Iterator[tuple[int, str, Any]]:
        for index, leaf, _hash, kind, _actor in store.iter_leaves(conn):
            if kind in RULE_KINDS:
                try:
                    yield index, kind, json.loads(leaf)["envelope"]["entry"]
                except (ValueError, KeyError, TypeError):
                    yield index, kind, None
    return audit_source_rules(entries())


def audit_source_rules(entries: Iterable[tuple[int, str, Any]]) -> int:
    """``audit_sources`` over (index, stored kind, entry) of the ``RULE_KINDS`` entries in
    log order, as the verify's workers keep them (entry None: the leaf does not parse; an
    image.registered entry may be cut to the fields the rules read)."""
    keys, state, checked = KeyState(), SourceState(), 0
    for index, kind, entry in entries:
        try:
            if entry is None:
                raise ValueError("unparsed")
            if kind in _KEY_KINDS:
                keys.apply(index=index, entry=entry)
                continue
            signer = keys.by_id.get(entry["actor"])
            if signer is None:
                raise PolicyError(f"entry signed by unknown key {entry['actor'][:16]}")
            state.check(entry=entry, signer=signer, keys=keys)
            state.apply(entry=entry, index=index)
        except PolicyError as exc:
            raise VerificationError(exc.message, index=index) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise VerificationError("malformed leaf", index=index) from exc
        checked += kind == "image.registered"
    return checked
