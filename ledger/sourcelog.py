"""Source rules against a stored log: the state an append starts from, the audit, the projection.

The rules themselves are :class:`ledger.audit.sourcestate.SourceState`; this module feeds it
from the store. An append replays the (few) source entries and looks up the first use of
the batch's dataset names; the audit replays every relevant leaf in log order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from ledger.audit.keystate import KeyState
from ledger.audit.sourcestate import SOURCE_KINDS, SourceState
from ledger.errors import PolicyError, VerificationError
from ledger.model.origin import dataset_name
from ledger.store import Store
from ledger.store.sources import dataset_owners

_KEY_KINDS = ("key.added", "key.revoked")


def source_state(store: Store, conn: Connection, entries: Iterable[dict[str, Any]]
                 ) -> SourceState:  # fmt: skip
    """The rules' state at the log's tail, with the owners of the datasets ``entries`` use."""
    state = SourceState()
    for _, leaf in store.leaves_of_kinds(conn, SOURCE_KINDS):
        state.apply(entry=json.loads(leaf)["envelope"]["entry"])
    names = {
        dataset_name(e["body"]["dataset"])
        for e in entries
        if e.get("kind") == "image.registered" and isinstance(e.get("body"), dict)
        and isinstance(e["body"].get("dataset"), str)
    }
    state.owners.update(dataset_owners(conn, names))
    return state


def audit_sources(store: Store, conn: Connection) -> int:
    """Replay the source and dataset rules over the whole log; VerificationError at the first
    entry that breaks them. Returns how many image.registered entries were checked.

    Runs after the main audit, which has checked every signature and signer."""
    keys, state, checked = KeyState(), SourceState(), 0
    for index, leaf, _hash, kind, _actor in store.iter_leaves(conn):
        if kind not in _KEY_KINDS and kind not in SOURCE_KINDS and kind != "image.registered":
            continue
        try:
            entry = json.loads(leaf)["envelope"]["entry"]
            if kind in _KEY_KINDS:
                keys.apply(index=index, entry=entry)
                continue
            signer = keys.by_id.get(entry["actor"])
            if signer is None:
                raise PolicyError(f"entry signed by unknown key {entry['actor'][:16]}")
            state.check(entry=entry, signer=signer, keys=keys)
            state.apply(entry=entry)
        except PolicyError as exc:
            raise VerificationError(exc.message, index=index) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise VerificationError("malformed leaf", index=index) from exc
        checked += kind == "image.registered"
    return checked

