"""The pre-append check: the database's tree must extend what this ledger last signed.

Inside the sequencer's write lock, before anything is appended or signed:

1. The last checkpoint this ledger signed (DIR/checkpoints; else the older DIR/checkpoint)
   is extended by the database's tree: an RFC 9162 consistency proof built from the
   stored nodes verifies against that checkpoint's root and the current root. A newer
   checkpoint in the database (a crash before the history write) is accepted when the
   log key signed it and the tree extends it too; it is recorded after the commit.
2. The key and policy state comes from the newest trusted base (this process's last
   commit, else DIR/state.json), which the tree must extend as well, plus a full
   re-check of the leaves after it (parse, chain, leaf hash, signature, signer rules):
   nobody has signed those yet. With no base at all (a ledger made before this check),
   every leaf is replayed once.

Cost: a few O(log n) proofs plus the leaves after the base (usually none).
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from ledger.audit.keystate import KeyState
from ledger.audit.replay import audit_log
from ledger.checkpoints import open_checkpoint
from ledger.crypto.keys import key_id_of
from ledger.crypto.note import NoteVerifier
from ledger.errors import LedgerError, StorageError, VerificationError
from ledger.guard.history import History, Record, Signed
from ledger.guard.state import Trusted, read_snapshot, write_snapshot
from ledger.log.chain import GENESIS_PREV
from ledger.log.hashing import EMPTY_ROOT
from ledger.log.proofs import (
    consistency_nodes,
    consistency_proof,
    inclusion_nodes,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from ledger.log.tree import append_leaves, frontier, root_from_frontier
from ledger.model.kinds import KindRegistry
from ledger.model.registry import DEFAULT_KINDS
from ledger.store import Store

INVESTIGATE = "run 'medledger verify --checkpoint DIR/checkpoint' to investigate"


@dataclass(frozen=True)
class Head:
    size: int
    root: bytes


def tree_root(store: Store, conn: Connection, size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    try:
        nodes = store.perfect_nodes(conn, frontier(size))
    except StorageError as exc:
        raise VerificationError(f"the database's tree of size {size} is broken: {exc.message}"
                                ) from exc
    return root_from_frontier(size, [nodes[c] for c in frontier(size)])


def prove_extends(store: Store, conn: Connection, old: Head, new: Head, *, what: str) -> None:
    """Raise VerificationError unless the stored tree ``new`` extends ``old``."""
    refusal = (
        f"the database's tree (size {new.size}, root {new.root.hex()}) does not extend "
        f"{what} (size {old.size}, root {old.root.hex()})"
    )
    if new.size < old.size:
        raise VerificationError(f"{refusal}: it is smaller (rolled back or truncated); "
                                f"nothing was written; {INVESTIGATE}")
    try:
        coords = consistency_nodes(old_size=old.size, new_size=new.size)
        proof = consistency_proof(old_size=old.size, new_size=new.size,
                                  nodes=store.perfect_nodes(conn, coords))
        verify_consistency(old_size=old.size, new_size=new.size, old_root=old.root,
                           new_root=new.root, proof=proof)
    except (VerificationError, StorageError) as exc:
        raise VerificationError(f"{refusal}: {exc.message}; nothing was written; {INVESTIGATE}"
                                ) from exc


class LogGuard:
    """One per open ledger: checks before appends and records what the log key signed."""

    def __init__(
        self, directory: Path, verifier: NoteVerifier, *, kinds: KindRegistry = DEFAULT_KINDS
    ) -> None:
        self.directory = directory
        self.history = History(directory)
        self.verifier = verifier
        self.kinds = kinds  # the entry kinds the replayed tail may hold
        self.log_id = verifier.public_key.key_id  # the log that v2 entries must name
        self._tip: Trusted | None = None  # the state this process last committed
        self._tip_lock = threading.Lock()
        self._local = threading.local()  # each thread's open transaction

    @property
    def _pending(self) -> list[Record]:
        """Checkpoints signed inside this thread's open transaction."""
        pending: list[Record] | None = getattr(self._local, "pending", None)
        if pending is None:
            pending = self._local.pending = []
        return pending

    @_pending.setter
    def _pending(self, value: list[Record]) -> None:
        self._local.pending = value

    # --- the check -------------------------------------------------------------------
    def check(self, store: Store, conn: Connection) -> Trusted:
        """The trusted state at the database's tail; raises VerificationError if rolled back."""
        self._pending = []
        self._local.proven = None
        size, stored_tail = store.tail(conn)
        head = Head(size, tree_root(store, conn, size))
        last = self._last_signed(store, conn, head)
        if last is not None:
            prove_extends(store, conn, Head(last.size, last.root), head,
                          what="the last checkpoint this ledger signed")
            self._local.proven = (Head(last.size, last.root), head)
        state = self._state_at(store, conn, head)
        if size and stored_tail != _last_leaf_hash(store, conn, state):  # the next prev
            raise VerificationError(f"the stored hash of the last leaf differs from the tree's; "
                                    f"nothing was written; {INVESTIGATE}", index=size - 1)
        return state

    def is_note_of(self, note: str, state: Trusted) -> bool:
        """Whether ``note`` is the log key's checkpoint of exactly ``state``'s tree."""
        try:
            opened = open_checkpoint(note, [self.verifier])
        except LedgerError:
            return False
        return (opened.size, opened.root) == (state.size, state.root)

    def last_signed(self) -> Signed | None:
        """The newest record of DIR/checkpoints, else the older single DIR/checkpoint."""
        last = self.history.last_signed()
        if last is None and not self.history.exists():
            seen = self.directory / "checkpoint"
            if seen.exists():
                note = seen.read_text()
                opened = open_checkpoint(note, [self.verifier], source=str(seen))
                last = Signed(opened.size, opened.root, note)
        return last

    def _last_signed(self, store: Store, conn: Connection, head: Head) -> Signed | None:
        last = self.last_signed()
        row = store.latest_checkpoint(conn)
        if row is None or (last is not None and row.size <= last.size):
            return last
        # Signed here but not yet in the history (a crash after the commit): the log key
        # signed it, so it binds the database too; the tree must extend it.
        opened = open_checkpoint(row.note, [self.verifier], source="the database's checkpoint")
        newer = Signed(opened.size, opened.root, row.note)
        if last is not None:
            prove_extends(store, conn, Head(last.size, last.root), head,
                          what="the last checkpoint this ledger signed")
        self._pending.append(newer)
        return newer

    def _state_at(self, store: Store, conn: Connection, head: Head) -> Trusted:
        tip = self._tip
        if tip is not None and tip.size > head.size:
            raise VerificationError(
                f"the database's tree (size {head.size}) is smaller than the tree this process "
                f"appended (size {tip.size}): rolled back; nothing was written; {INVESTIGATE}")
        bases = [tip] if tip is not None else []
        if tip is None or tip.size < head.size:  # another process appended: maybe closer
            bases += [s for s in [read_snapshot(self.directory)] if s is not None]
        bases = [b for b in bases if b.size <= head.size]
        if not bases:
            return replay(store, conn, None, head, log_id=self.log_id, kinds=self.kinds)
        base = max(bases, key=lambda b: b.size)
        prove_extends(store, conn, Head(base.size, base.root), head,
                      what="the key and policy state this ledger recorded")
        return replay(store, conn, base, head, log_id=self.log_id, kinds=self.kinds)

    # --- recording, after the commit ------------------------------------------------
    def signed(self, note: str, *, size: int, root: bytes) -> None:
        """A checkpoint signed inside the open transaction; recorded by ``committed``."""
        self._pending.append(Signed(size, root, note))

    def committed(self, state: Trusted) -> None:
        """After the database commit: append the signed notes, keep the state in memory."""
        pending, self._pending = self._pending, []
        self.history.append(pending)
        proven = getattr(self._local, "proven", None)
        self._local.proven = None
        self._local.extends = None if proven is None else (proven[0],
                                                           Head(state.size, state.root))
        with self._tip_lock:  # threads commit in order but may get here in any order
            if self._tip is None or state.size >= self._tip.size:
                self._tip = state.copy()

    def keep_snapshot(self) -> None:
        """At the end of a command: the state in DIR/state.json for the next process, if
        it is the state of the last recorded checkpoint."""
        tip = self._tip
        if tip is None:
            return
        with self.history.locked():
            last = self.history.last_signed()
            if last is not None and (last.size, last.root) == (tip.size, tip.root):
                write_snapshot(self.directory, tip)

    def proven(self, old: Head, new: Head) -> bool:
        """Whether this thread's last commit showed that ``new`` extends ``old``: its check
        proved the tree extends the last signed checkpoint ``old``, and ``new`` is that
        tree, or that tree grown by this very append."""
        return bool(getattr(self._local, "extends", None) == (old, new))

    def discard(self) -> None:
        self._pending = []

    def forget_tip(self) -> None:
        with self._tip_lock:
            self._tip = None


def replay(
    store: Store, conn: Connection, base: Trusted | None, head: Head, *, log_id: str,
    kinds: KindRegistry = DEFAULT_KINDS,
) -> Trusted:
    """``base`` advanced over the leaves after it, each checked in full (v2 entries must
    name the log ``log_id``)."""
    start = base.size if base is not None else 0
    state = base.copy() if base is not None else Trusted(0, EMPTY_ROOT, KeyState())
    if start == head.size:
        return state
    rows = list(store.iter_leaves(conn, start=start, end=head.size))
    prev = GENESIS_PREV if start == 0 else _last_leaf_hash(store, conn, state).hex()
    entries = [_entry_of(leaf) for _, leaf, *_ in rows]
    public = {k.key_id: k.public_key for k in state.keys.by_id.values()}
    for entry in entries:
        if entry is not None and entry.get("kind") == "key.added":
            _add_public(public, entry.get("body"))
    keys = state.keys
    try:
        audit_log(rows, log_id=log_id, public_keys=public, checkpoints=[], stored_nodes=None,
                  start=start, prev=prev, keys=keys, kinds=kinds)
    except VerificationError as exc:
        raise VerificationError(
            f"a leaf appended after the last signed checkpoint (size {start}) fails its "
            f"check: {exc.diagnostics()}; nothing was written; {INVESTIGATE}",
            index=exc.index) from exc
    for entry in entries:  # all parsed and signed by an admin: the audit just said so
        if entry is not None and entry["kind"] == "policy.changed":
            state.policy[entry["body"]["setting"]] = entry["body"]["value"]
    _check_tail_root(store, conn, state, [r[2] for r in rows], head)
    return Trusted(head.size, head.root, keys, state.policy)


def _last_leaf_hash(store: Store, conn: Connection, state: Trusted) -> bytes:
    """Leaf ``size - 1`` of the trusted tree, proven by inclusion in its root."""
    index, size = state.size - 1, state.size
    nodes = store.perfect_nodes(conn, inclusion_nodes(index=index, size=size) | {(0, index)})
    proof = inclusion_proof(index=index, size=size, nodes=nodes)
    verify_inclusion(index=index, size=size, leaf_hash=nodes[(0, index)], proof=proof,
                     root=state.root)
    return nodes[(0, index)]


def _check_tail_root(store: Store, conn: Connection, base: Trusted, leaf_hashes: list[bytes],
                     head: Head) -> None:
    """The leaves just checked are exactly the ones the tree (and so a signature) binds."""
    start = base.size
    edge = [store.perfect_nodes(conn, frontier(start))[c] for c in frontier(start)] if start else []
    if start and root_from_frontier(start, edge) != base.root:
        raise VerificationError(f"the stored tree of size {start} does not match its root; "
                                f"{INVESTIGATE}")
    _, grown = append_leaves(size=start, frontier_hashes=edge, leaf_hashes=leaf_hashes)
    if root_from_frontier(head.size, grown) != head.root:
        raise VerificationError(
            f"the leaves after index {start} are not the ones the stored tree binds; "
            f"nothing was written; {INVESTIGATE}", index=start)


def _entry_of(leaf: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(leaf)["envelope"]["entry"]
    except (ValueError, KeyError, TypeError):
        return None  # the audit names it as malformed
    return entry if isinstance(entry, dict) else None


def _add_public(public: dict[str, bytes], body: Any) -> None:
    try:
        raw = base64.b64decode(body["public_key"], validate=True)
        key_id = body["key_id"]
    except (ValueError, KeyError, TypeError, LedgerError):
        return
    if len(raw) == 32 and key_id_of(raw) == key_id:
        public.setdefault(key_id, raw)
