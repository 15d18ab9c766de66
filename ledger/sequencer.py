"""The log's single sequencer: checks, chains, hashes and stores a batch of envelopes.

All or nothing per batch: every envelope is validated and its signature and
signer checked before anything is written, inside one write-locked transaction.
An envelope already in the log is answered with its existing index.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ledger.audit.keystate import KeyRecord, KeyState
from ledger.crypto.keys import PublicKey
from ledger.crypto.signing import verify_entry
from ledger.errors import LedgerError
from ledger.log.chain import GENESIS_PREV
from ledger.log.hashing import leaf_hash
from ledger.log.tree import appended_nodes, frontier, root_from_frontier
from ledger.model.canonical import canonical_json
from ledger.model.entry import parse_envelope
from ledger.model.kinds import validate_body
from ledger.model.roles import Role
from ledger.projections import project
from ledger.store import Store, locked_write

# Called inside the transaction with (conn, size, root) after the batch is stored.
AfterAppend = Callable[[Connection, int, bytes], None]


@dataclass(frozen=True)
class Appended:
    index: int
    leaf_hash: bytes
    existing: bool  # True when the envelope was already in the log


def key_state(store: Store, conn: Connection) -> KeyState:
    return KeyState(
        [
            KeyRecord(
                r.key_id,
                r.name,
                Role(r.role),
                base64.b64decode(r.public_key),
                r.added_idx,
                r.revoked_idx,
            )
            for r in store.keys(conn)
        ]
    )


def append(
    store: Store, envelopes: Sequence[dict[str, Any]], *, after: AfterAppend | None = None
) -> list[Appended]:
    """Append ``envelopes`` in order; returns one result per envelope."""
    encoded = [_validate(i, env) for i, env in enumerate(envelopes)]
    with locked_write(store.engine) as conn:
        size, tail = store.tail(conn)
        known = store.existing_envelopes(conn, [e.envelope_hash for e in encoded])
        keys = key_state(store, conn)
        public_keys: dict[str, PublicKey] = {}
        prev = GENESIS_PREV if tail is None else tail.hex()
        results: list[Appended] = []
        rows: list[dict[str, Any]] = []
        fresh: list[tuple[int, dict[str, Any]]] = []
        batch_seen: dict[bytes, Appended] = {}
        for item in encoded:
            if item.envelope_hash in batch_seen:
                results.append(batch_seen[item.envelope_hash])
                continue
            if item.envelope_hash in known:
                results.append(_existing(store, conn, known[item.envelope_hash]))
                continue
            index = size + len(rows)
            entry = item.envelope["entry"]
            try:
                signer = keys.signer(index=index, entry=entry)
                public = public_keys.get(signer.key_id) or PublicKey(signer.public_key)
                public_keys[signer.key_id] = public
                verify_entry(public, item.entry_bytes, base64.b64decode(item.envelope["sig"]))
                keys.apply(index=index, entry=entry)
            except LedgerError as exc:
                exc.subject = exc.subject or f"envelope {item.position}"
                raise
            leaf_bytes = canonical_json({"prev": prev, "envelope": item.envelope})
            lh = leaf_hash(leaf_bytes)
            rows.append(
                {
                    "idx": index,
                    "leaf": leaf_bytes,
                    "leaf_hash": lh,
                    "envelope_hash": item.envelope_hash,
                    "kind": entry["kind"],
                    "actor": entry["actor"],
                }
            )
            fresh.append((index, entry))
            result = Appended(index, lh, existing=False)
            batch_seen[item.envelope_hash] = result
            results.append(result)
            prev = lh.hex()
        if rows:
            old_frontier = store.perfect_nodes(conn, frontier(size)) if size else {}
            frontier_hashes = [old_frontier[c] for c in frontier(size)]
            new_nodes = appended_nodes(
                size=size,
                frontier_hashes=frontier_hashes,
                leaf_hashes=[r["leaf_hash"] for r in rows],
            )
            store.insert_leaves(conn, rows)
            store.insert_nodes(conn, new_nodes)
            for index, entry in fresh:
                project(store, conn, index, entry)
            new_size = size + len(rows)
            if after is not None:
                made = {(level, index): h for level, index, h in new_nodes}
                made.update(old_frontier)
                root = root_from_frontier(new_size, [made[c] for c in frontier(new_size)])
                after(conn, new_size, root)
    return results


@dataclass(frozen=True)
class _Encoded:
    position: int
    envelope: dict[str, Any]
    entry_bytes: bytes
    envelope_hash: bytes


def _validate(position: int, envelope: dict[str, Any]) -> _Encoded:
    subject = f"envelope {position}"
    parsed = parse_envelope(envelope, subject=subject)
    try:
        validate_body(parsed.entry.kind, envelope["entry"]["body"])
    except LedgerError as exc:
        exc.subject = subject
        raise
    return _Encoded(
        position,
        envelope,
        canonical_json(envelope["entry"]),
        hashlib.sha256(canonical_json(envelope)).digest(),
    )


def _existing(store: Store, conn: Connection, index: int) -> Appended:
    leaves = list(store.iter_leaves(conn, start=index, end=index + 1))
    return Appended(index, leaves[0][2], existing=True)
