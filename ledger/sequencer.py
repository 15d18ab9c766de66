"""The log's single sequencer: checks, chains, hashes and stores a batch of envelopes.

All or nothing per batch: every envelope is validated and its signature and
signer checked before anything is written, inside one write-locked transaction.
An envelope already in the log is answered with its existing index.

Large batches in a process that appends in bulk are validated, and their
signatures checked against the signers' stored keys, on worker processes before
the lock is taken (Ed25519 costs far more than the rest); inside the lock the
sequencer still decides who may sign each entry, in order, and only trusts a
worker's signature check that used that very key. Errors, and which one is
raised first, are the same as when everything is checked here.

Inside the lock, before anything else, the ledger's guard (``ledger.guard``) proves that
the stored tree extends the last checkpoint the ledger signed, and supplies the key and
policy state from the signed log: never from the editable ``keys`` table.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from ledger.audit.accessrules import check_batch as check_access_batch
from ledger.audit.binding import check_new_entry
from ledger.audit.consentrules import check_batch as check_consent_batch
from ledger.crypto.keys import PublicKey
from ledger.crypto.signing import decode_sig, verify_entry
from ledger.errors import LedgerError
from ledger.guard.check import LogGuard
from ledger.guard.state import Trusted
from ledger.lineagelog import DerivationCheck
from ledger.log.chain import GENESIS_PREV
from ledger.log.hashing import leaf_hash
from ledger.log.tree import appended_nodes, frontier, root_from_frontier
from ledger.model.canonical import canonical_json, known_encoding
from ledger.model.entry import parse_envelope
from ledger.model.kinds import KindRegistry
from ledger.model.projection import Projections
from ledger.model.registry import DEFAULT_KINDS, DEFAULT_PROJECTIONS
from ledger.processes import discard_pool, ready_pool
from ledger.projections import project_batch
from ledger.sourcelog import source_state
from ledger.store import Store, locked_write, reading

# Called inside the transaction with (conn, size, root) after the batch is stored.
AfterAppend = Callable[[Connection, int, bytes], None]
# Runs in the append's transaction with the results: rows derived from them commit with it.
WithResults = Callable[[Connection, Sequence["Appended"]], None]

# Batches at least this large are checked on worker processes (see ``_encode_all``),
# once this process has appended WORKERS_AFTER envelopes in such batches: a process
# that appends a few batches never starts workers.
PARALLEL_FROM = 256
WORKERS_AFTER = 4096
_TASK_SIZE = 128  # envelopes per worker task
_large_seen = 0


@dataclass(frozen=True)
class Appended:
    index: int
    leaf_hash: bytes
    existing: bool  # True when the envelope was already in the log


def append(
    store: Store,
    envelopes: Sequence[dict[str, Any]],
    *,
    log_id: str,
    guard: LogGuard,
    after: AfterAppend | None = None,
    within: WithResults | None = None,
    kinds: KindRegistry = DEFAULT_KINDS,
    projections: Projections = DEFAULT_PROJECTIONS,
) -> list[Appended]:
    """Append ``envelopes`` in order to the log ``log_id`` (the key id of its checkpoint
    key; each new entry must be v2 and name it); returns one result per envelope.

    ``guard`` first proves the stored tree extends what the ledger last signed, and gives
    the key and policy state from the signed log (never the editable tables). Entries must
    be of a kind in ``kinds``; ``projections`` make their table rows."""
    encoded = _encode_all(store, envelopes, kinds)
    try:
        with locked_write(store.engine) as conn:
            trusted = _append_locked(store, conn, encoded, log_id=log_id, guard=guard,
                                     after=after, within=within, kinds=kinds,
                                     projections=projections)
    except BaseException:
        guard.discard()
        raise
    guard.committed(trusted)
    return trusted.results


@dataclass
class _Outcome(Trusted):
    results: list[Appended] = field(default_factory=list)


def _append_locked(
    store: Store,
    conn: Connection,
    encoded: list[_Encoded],
    *,
    log_id: str,
    guard: LogGuard,
    after: AfterAppend | None,
    within: WithResults | None,
    kinds: KindRegistry,
    projections: Projections,
) -> _Outcome:
    trusted = guard.check(store, conn)
    size, tail = store.tail(conn)
    known = store.existing_envelopes(conn, [e.envelope_hash for e in encoded])
    keys = trusted.keys
    sources = source_state(store, conn, (e.envelope["entry"] for e in encoded))
    lineage = DerivationCheck(store, conn)
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
            check_new_entry(entry, log_id=log_id)
            signer = keys.signer(index=index, entry=entry, kinds=kinds)
            if not (item.verified_ok and item.verified_with == signer.public_key):
                public = public_keys.get(signer.key_id) or PublicKey(signer.public_key)
                public_keys[signer.key_id] = public
                sig = decode_sig(item.envelope["sig"])
                verify_entry(public, item.entry_bytes, sig, version=entry["v"])
            sources.check(entry=entry, signer=signer, keys=keys)
            lineage.check(index=index, entry=entry)
            trusted.apply(index=index, entry=entry)
            sources.apply(entry=entry, index=index)
            lineage.apply(index=index, entry=entry)
        except LedgerError as exc:
            exc.subject = exc.subject or f"envelope {item.position}"
            raise
        leaf_bytes = _leaf_bytes(prev, item.envelope_bytes)
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
        check_consent_batch(conn, fresh)  # consent names registered images, live subjects
        check_access_batch(store, conn, fresh, trusted.keys)  # grants, dataset.accessed
        project_batch(store, conn, fresh, projections)
        new_size = size + len(rows)
        made = {(level, index): h for level, index, h in new_nodes}
        made.update(old_frontier)
        root = root_from_frontier(new_size, [made[c] for c in frontier(new_size)])
        trusted = Trusted(new_size, root, trusted.keys, trusted.policy)
        if after is not None:
            after(conn, new_size, root)
    if within is not None:
        within(conn, results)
    return _Outcome(trusted.size, trusted.root, trusted.keys, trusted.policy, results)


@dataclass(slots=True)
class _Encoded:
    position: int
    envelope: dict[str, Any]
    entry_bytes: bytes
    envelope_bytes: bytes  # canonical_json(envelope)
    envelope_hash: bytes
    # Set when a worker already checked the signature: the raw public key it used
    # and the outcome. The sequencer still decides who may sign, and trusts the
    # outcome only if that signer's key is this one.
    verified_with: bytes | None = None
    verified_ok: bool = False


def _validate(position: int, envelope: dict[str, Any], kinds: KindRegistry) -> _Encoded:
    subject = f"envelope {position}"
    try:
        envelope_bytes: bytes | None = canonical_json(envelope)
    except Exception:
        envelope_bytes = None  # parse_envelope raises its own error for it
    if envelope_bytes is None:
        parsed = parse_envelope(envelope, subject=subject)
    else:
        with known_encoding(envelope, envelope_bytes):  # its size check encodes it again
            parsed = parse_envelope(envelope, subject=subject)
    try:
        kinds.validate_body(parsed.entry.kind, envelope["entry"]["body"])
    except LedgerError as exc:
        exc.subject = subject
        raise
    if envelope_bytes is None:
        envelope_bytes = canonical_json(envelope)
    entry_bytes = _entry_bytes(envelope_bytes, envelope)
    return _Encoded(
        position,
        envelope,
        entry_bytes,
        envelope_bytes,
        hashlib.sha256(envelope_bytes).digest(),
    )


# RFC 8785 encodes an object member by member with keys in order, so a canonical
# envelope {entry, sig} and leaf {envelope, prev} are the canonical bytes of their
# parts spliced into fixed text. The signature has been validated as 88 base64
# characters (no JSON escapes) and prev is 64 hex digits, so the entry's bytes are
# a slice of the envelope's, and the leaf's are the envelope's in a fixed frame:
# one encoding per envelope instead of four.
def _entry_bytes(envelope_bytes: bytes, envelope: dict[str, Any]) -> bytes:
    """canonical_json(envelope["entry"]), cut out of canonical_json(envelope)."""
    tail = b',"sig":"' + envelope["sig"].encode("ascii") + b'"}'
    if envelope_bytes.startswith(b'{"entry":') and envelope_bytes.endswith(tail):
        return envelope_bytes[9 : len(envelope_bytes) - len(tail)]
    return canonical_json(envelope["entry"])


def _leaf_bytes(prev: str, envelope_bytes: bytes) -> bytes:
    return b'{"envelope":' + envelope_bytes + b',"prev":"' + prev.encode("ascii") + b'"}'


def _encode_all(
    store: Store, envelopes: Sequence[dict[str, Any]], kinds: KindRegistry
) -> list[_Encoded]:
    """``_validate`` every envelope, in order, raising the first error it raises.

    Large batches are validated, and their signatures checked against the signers'
    keys as currently stored, on worker processes. Anything a worker could not
    accept (or a pool that fails) sends the whole batch back through ``_validate``
    here, so errors and their order are exactly those of the sequential check.
    """
    global _large_seen
    if len(envelopes) < PARALLEL_FROM:
        return [_validate(i, env, kinds) for i, env in enumerate(envelopes)]
    _large_seen += len(envelopes)
    pool = ready_pool() if _large_seen >= WORKERS_AFTER else None
    if pool is None:
        return [_validate(i, env, kinds) for i, env in enumerate(envelopes)]
    with reading(store.engine) as conn:
        stored_keys = {r.key_id: base64.b64decode(r.public_key) for r in store.keys(conn)}
    futures: list[tuple[int, Future[list[_Checked | None]]]] = []
    try:
        for start in range(0, len(envelopes), _TASK_SIZE):
            chunk = list(envelopes[start : start + _TASK_SIZE])
            keys = {a: stored_keys[a] for a in map(_actor_of, chunk) if a in stored_keys}
            futures.append((start, pool.submit(_check_envelopes, chunk, keys, kinds)))
        checked = [(start, future.result()) for start, future in futures]
    except BrokenProcessPool:
        discard_pool(pool)
        return [_validate(i, env, kinds) for i, env in enumerate(envelopes)]
    encoded: list[_Encoded] = []
    for start, results in checked:
        for offset, result in enumerate(results):
            position = start + offset
            if result is None:  # let the sequential check raise its own error
                rest = range(position, len(envelopes))
                return encoded + [_validate(i, envelopes[i], kinds) for i in rest]
            entry_len, envelope_bytes, envelope_hash, key, ok = result
            encoded.append(
                _Encoded(
                    position,
                    envelopes[position],
                    envelope_bytes[9 : 9 + entry_len],
                    envelope_bytes,
                    envelope_hash,
                    key,
                    ok,
                )
            )
    return encoded


def _actor_of(envelope: Any) -> str | None:
    try:
        actor = envelope["entry"]["actor"]
    except (TypeError, KeyError, IndexError):
        return None
    return actor if isinstance(actor, str) else None


# (len(entry bytes), envelope bytes, envelope hash, key the signature was checked with, ok)
_Checked = tuple[int, bytes, bytes, bytes | None, bool]


def _check_envelopes(
    chunk: list[dict[str, Any]], keys: dict[str, bytes], kinds: KindRegistry
) -> list[_Checked | None]:
    """In a worker: ``_validate`` each envelope and check its signature when its key is given.

    None marks an envelope that failed (the parent repeats the check to report it).
    """
    out: list[_Checked | None] = []
    cache: dict[bytes, PublicKey] = {}
    for position, envelope in enumerate(chunk):
        try:
            item = _validate(position, envelope, kinds)
        except Exception:
            out.append(None)
            continue
        raw = keys.get(envelope["entry"]["actor"])
        ok = False
        if raw is not None:
            try:
                public = cache.get(raw) or cache.setdefault(raw, PublicKey(raw))
                sig = decode_sig(envelope["sig"])
                verify_entry(public, item.entry_bytes, sig, version=envelope["entry"]["v"])
                ok = True
            except LedgerError:
                ok = False
        out.append((len(item.entry_bytes), item.envelope_bytes, item.envelope_hash, raw, ok))
    return out


def _existing(store: Store, conn: Connection, index: int) -> Appended:
    leaves = list(store.iter_leaves(conn, start=index, end=index + 1))
    return Appended(index, leaves[0][2], existing=True)
