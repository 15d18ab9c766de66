"""Per-leaf checks that need no context beyond the signers' public keys.

These run in worker processes during a full audit (signature verification is
the cost floor), and return small facts for the sequential replay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ledger.audit.binding import other_log
from ledger.audit.fastpath import ChunkSummary, summarize_signed
from ledger.crypto.keys import PublicKey
from ledger.crypto.signing import decode_sig, verify_entry
from ledger.errors import InputError, LedgerError
from ledger.log.hashing import leaf_hash
from ledger.model.canonical import canonical_json
from ledger.model.entry import parse_envelope
from ledger.model.kinds import KindRegistry
from ledger.model.registry import DEFAULT_KINDS

KEY_KINDS = ("key.added", "key.revoked")
_PREV_MARK = b',"prev":"'


@dataclass(frozen=True)
class LeafFacts:
    index: int
    leaf_hash: bytes
    prev: str
    kind: str
    actor: str
    key_body: dict[str, Any] | None  # body of key entries, for the key replay
    error: str | None = None
    version: int = 0  # the entry's v (0: not read, as in a tree-only audit)


def prev_of(leaf: bytes) -> str | None:
    """``prev`` read from the end of a canonical leaf (keys sort: envelope < prev)."""
    if len(leaf) < 75 or leaf[-75:-66] != _PREV_MARK or not leaf.endswith(b'"}'):
        return None
    return leaf[-66:-2].decode("ascii", "replace")


def check_leaf(
    index: int,
    leaf: bytes,
    public_keys: dict[str, bytes],
    cache: dict[str, PublicKey],
    *,
    log_id: str,
    kinds: KindRegistry = DEFAULT_KINDS,
) -> LeafFacts:
    digest = leaf_hash(leaf)
    try:
        value = json.loads(leaf)
        if not isinstance(value, dict) or set(value) != {"prev", "envelope"}:
            raise ValueError("a leaf is exactly {prev, envelope}")
        if canonical_json(value) != leaf:
            raise ValueError("leaf is not in RFC 8785 canonical form")
        parse_envelope(value["envelope"])
        envelope = value["envelope"]
        entry = envelope["entry"]
        kinds.validate_body(entry["kind"], entry["body"])
    except (ValueError, LedgerError) as exc:
        text = exc.diagnostics() if isinstance(exc, LedgerError) else str(exc)
        return LeafFacts(index, digest, "", "", "", None, f"malformed leaf: {text}")
    kind, actor = entry["kind"], entry["actor"]
    key_body = entry["body"] if kind in KEY_KINDS else None
    version = entry["v"]
    facts = LeafFacts(index, digest, str(value["prev"]), kind, actor, key_body, version=version)
    if version == 2 and entry["log"] != log_id:
        return _failed(facts, other_log(entry["log"], log_id))
    raw = public_keys.get(actor)
    if raw is None:
        return _failed(facts, f"signed by unknown key {actor[:16]}")
    try:
        public = cache.get(actor) or cache.setdefault(actor, PublicKey(raw))
        verify_entry(public, canonical_json(entry), decode_sig(envelope["sig"]), version=version)
    except InputError as exc:  # a weak key, or a signature with S >= L
        return _failed(facts, f"signature does not verify: {exc.message}")
    except LedgerError:
        return _failed(facts, "signature does not verify")
    return facts


def _failed(facts: LeafFacts, error: str) -> LeafFacts:
    return LeafFacts(facts.index, facts.leaf_hash, facts.prev, facts.kind, facts.actor,
                     facts.key_body, error, facts.version)


_WORKER_KEYS: dict[str, bytes] = {}
_WORKER_CACHE: dict[str, PublicKey] = {}
_WORKER_LOG: list[str] = [""]  # the audited log's id
_WORKER_KINDS: list[KindRegistry] = [DEFAULT_KINDS]  # the entry kinds the log may hold


def init_worker(
    public_keys: dict[str, bytes], log_id: str, kinds: KindRegistry = DEFAULT_KINDS
) -> None:
    _WORKER_KEYS.clear()
    _WORKER_KEYS.update(public_keys)
    _WORKER_CACHE.clear()
    _WORKER_LOG[0] = log_id
    _WORKER_KINDS[0] = kinds


def check_chunk(chunk: list[tuple[int, bytes]]) -> list[LeafFacts]:
    log_id, kinds = _WORKER_LOG[0], _WORKER_KINDS[0]
    return [check_leaf(i, leaf, _WORKER_KEYS, _WORKER_CACHE, log_id=log_id, kinds=kinds)
            for i, leaf in chunk]


def check_rows(rows: list[tuple[int, bytes, bytes, str, str]], *,
               entries: list[Any] | None = None) -> ChunkSummary | list[LeafFacts]:
    """A summary of an intact chunk of stored rows (see ``fastpath``), else every leaf's facts.
    ``entries``: filled with the parsed entries of an intact chunk (see ``summarize_signed``)."""
    summary = summarize_signed(rows, _WORKER_KEYS, _WORKER_CACHE, log_id=_WORKER_LOG[0],
                               kinds=_WORKER_KINDS[0], entries=entries)
    if summary is not None:
        return summary
    return check_chunk([(row[0], row[1]) for row in rows])
