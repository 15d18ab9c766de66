"""The audit's fast path: a whole chunk of leaves settled at once when nothing is wrong.

The replay in ``replay.py`` checks each leaf in order and names the first bad
index; that order is what a tampered log needs. An intact chunk needs none of
it: if every leaf parses, is canonical, validates, is signed by its actor and
matches its stored hash, kind and actor, if the chain links inside the chunk,
and if the chunk's first ``prev``, its signers, its tree nodes and the
checkpoints that fall in it all check out against the state at its start,
then the replay would raise nothing and would end in a state computed here
directly: without a ``LeafFacts`` per leaf, with the leaf hashes sent back from
the workers in one list, and the Merkle nodes built by the log's tree code in one pass.

Any doubt sends the chunk through the per-leaf replay unchanged, so this
module can only ever make an intact log faster; every error, its index and its
message come from the replay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from ledger.audit.keystate import KeyState
from ledger.crypto.keys import PublicKey
from ledger.crypto.signing import decode_sig, verify_entry
from ledger.log.tree import Run, grow, root_from_frontier
from ledger.model.canonical import canonical_json, known_encoding, load_canonical
from ledger.model.entry import parse_envelope, settled_envelope
from ledger.model.kinds import KindRegistry
from ledger.model.registry import DEFAULT_KINDS

# (stored idx, leaf bytes, stored leaf hash, stored kind, stored actor)
Row = tuple[int, bytes, bytes, str, str]
StoredNodes = Callable[[int, int], dict[tuple[int, int], bytes]]

_KEY_KINDS = ("key.added", "key.revoked")
_PREV_MARK = b',"prev":"'
_LEAF = b"\x00"


@dataclass(frozen=True)
class ChunkSummary:
    """What an intact chunk tells the replay: everything else was checked leaf by leaf."""

    first_prev: str
    hashes: list[bytes]  # leaf hashes, equal to the stored ones
    kinds: dict[str, int]  # entry kinds (signature audits only)
    signers: frozenset[tuple[str, str]]  # (actor, kind) of its entries, none a key entry
    first_v2: int | None = None  # index of its first v2 entry (signature audits only)
    has_v1: bool = False  # whether it holds a v1 entry (all before any v2 in it)


@dataclass
class Advanced:
    """The replay's state after an intact chunk."""

    expected: int
    prev: str
    stack: list[bytes]  # the hashes of ledger.log.tree.frontier(size)
    size: int
    checkpoints: int  # how many of the pending checkpoints it checked (from the front)
    tree_nodes: int
    first_v2: int | None  # the log's first v2 entry so far


# --- per-chunk summaries -------------------------------------------------------------


def summarize_signed(
    rows: Sequence[Row], public_keys: dict[str, bytes], cache: dict[str, PublicKey], *,
    log_id: str, kinds: KindRegistry = DEFAULT_KINDS, entries: list[Any] | None = None
) -> ChunkSummary | None:
    """``check_leaf`` for every row, keeping only what an intact chunk needs; None as soon
    as any leaf would have an error or differ from its stored columns, is a key entry
    (key entries change who may sign, and are replayed leaf by leaf), or is a v1 entry
    after a v2 one. ``entries``: filled with each row's parsed entry, in row order (the
    projection audit reuses them instead of parsing every leaf again); complete only
    when a summary is returned."""
    try:
        return _summarize_signed(rows, public_keys, cache, log_id, registry=kinds,
                                 entries=entries)
    except Exception:
        return None


def _summarize_signed(
    rows: Sequence[Row], public_keys: dict[str, bytes], cache: dict[str, PublicKey], log_id: str,
    *, registry: KindRegistry, entries: list[Any] | None = None,
) -> ChunkSummary | None:
    keep = entries.append if entries is not None else None
    first_v2: int | None = None
    has_v1 = False
    hashes: list[bytes] = []
    kinds: dict[str, int] = {}
    signers: set[tuple[str, str]] = set()
    first_prev = ""
    linked: str | None = None
    for idx, leaf, stored_hash, stored_kind, stored_actor in rows:
        if idx == 0:
            return None
        digest = sha256(_LEAF + leaf).digest()
        if digest != stored_hash:
            return None
        value, canonical = load_canonical(leaf)
        if not canonical or type(value) is not dict or len(value) != 2 or "prev" not in value:
            return None
        if "envelope" not in value:
            return None
        envelope = value["envelope"]
        envelope_bytes = _envelope_bytes(leaf, value)
        if envelope_bytes is None:
            parse_envelope(envelope)
        elif not settled_envelope(envelope, size=len(envelope_bytes)):  # the model decides
            with known_encoding(envelope, envelope_bytes):  # its size check encodes it
                parse_envelope(envelope)
        entry = envelope["entry"]
        kind, actor = entry["kind"], entry["actor"]
        if kind in _KEY_KINDS or kind != stored_kind or actor != stored_actor:
            return None
        registry.validate_body(kind, entry["body"])
        version = entry["v"]
        if version == 2:
            if entry["log"] != log_id:  # a string comparison: the fast path stays fast
                return None
            if first_v2 is None:
                first_v2 = idx
        elif first_v2 is not None:
            return None
        else:
            has_v1 = True
        prev = str(value["prev"])
        if linked is None:
            first_prev = prev
        elif prev != linked:
            return None
        raw = public_keys.get(actor)
        if raw is None:
            return None
        public = cache.get(actor) or cache.setdefault(actor, PublicKey(raw))
        sig = envelope["sig"]
        entry_bytes = _entry_bytes(envelope_bytes, entry, sig)
        verify_entry(public, entry_bytes, decode_sig(sig), version=version)
        hashes.append(digest)
        if keep is not None:
            keep(entry)
        kinds[kind] = kinds.get(kind, 0) + 1
        signers.add((actor, kind))
        linked = digest.hex()
    return ChunkSummary(first_prev, hashes, kinds, frozenset(signers), first_v2, has_v1)


def _envelope_bytes(leaf: bytes, value: dict[str, Any]) -> bytes | None:
    """canonical_json(value["envelope"]), cut out of the leaf known to be canonical_json(value).

    RFC 8785 writes an object member by member in key order, each value in its own
    canonical form, so a canonical leaf is ``{"envelope":<envelope>,"prev":<prev>}``.
    """
    prev = value["prev"]
    if type(prev) is str and prev.isascii() and prev.isalnum():
        prev_bytes = b'"' + prev.encode("ascii") + b'"'
    else:
        prev_bytes = canonical_json(prev)
    tail = b',"prev":' + prev_bytes + b"}"
    if leaf.startswith(b'{"envelope":') and leaf.endswith(tail):
        return leaf[12 : len(leaf) - len(tail)]
    return None


def _entry_bytes(envelope_bytes: bytes | None, entry: Any, sig: str) -> bytes:
    """canonical_json(entry), cut out of the canonical envelope ``{"entry":..,"sig":..}``
    (``sig`` is validated base64 by now: no escapes)."""
    tail = b',"sig":"' + sig.encode("ascii") + b'"}'
    if envelope_bytes and envelope_bytes.startswith(b'{"entry":') and envelope_bytes.endswith(tail):
        return envelope_bytes[9 : len(envelope_bytes) - len(tail)]
    return canonical_json(entry)


def summarize_tree(rows: Sequence[Row]) -> ChunkSummary | None:
    """The tree-only checks of ``_tree_facts`` for a whole chunk: stored hashes, the
    ``prev`` at the end of each leaf, and the chain inside the chunk."""
    leaves = [row[1] for row in rows]
    hashes = [sha256(_LEAF + leaf).digest() for leaf in leaves]
    if hashes != [row[2] for row in rows]:
        return None
    for leaf in leaves:
        if len(leaf) < 75 or leaf[-75:-66] != _PREV_MARK or leaf[-2:] != b'"}':
            return None
    if [leaf[-66:-2] for leaf in leaves[1:]] != [h.hex().encode() for h in hashes[:-1]]:
        return None
    first_prev = leaves[0][-66:-2].decode("ascii", "replace")
    return ChunkSummary(first_prev, hashes, {}, frozenset())


# --- applying a summary -----------------------------------------------------------------


def advance(
    chunk: Sequence[Row],
    summary: ChunkSummary,
    *,
    expected: int,
    prev: str,
    keys: KeyState,
    signatures: bool,
    stack: list[bytes],
    size: int,
    tree: bool,
    pending: Sequence[tuple[int, bytes]],
    stored_nodes: StoredNodes | None,
    first_v2: int | None = None,
    kinds: KindRegistry = DEFAULT_KINDS,
) -> Advanced | None:
    """The state after ``chunk`` if the replay would find nothing wrong in it, else None.

    Nothing passed in is modified.
    """
    n = len(summary.hashes)
    if n != len(chunk) or n == 0 or (signatures and expected == 0):
        return None
    if [row[0] for row in chunk] != list(range(expected, expected + n)):
        return None
    if summary.first_prev != prev:
        return None
    if signatures and not _signers_ok(keys, summary.signers, index=expected, kinds=kinds):
        return None
    if signatures and summary.has_v1 and first_v2 is not None:
        return None  # a v1 entry after the log's first v2 one: the replay names it
    if signatures and first_v2 is None:
        first_v2 = summary.first_v2
    new_stack, new_size, checked, nodes = stack, size, 0, 0
    if tree:
        # Grown with the log's own tree code, split where a checkpoint falls in the chunk.
        runs: list[Run] = []
        done = 0
        while checked < len(pending) and size < pending[checked][0] <= size + n:
            want_size, want_root = pending[checked]
            part, new_stack = grow(
                size=size + done,
                frontier_hashes=new_stack,
                leaf_hashes=summary.hashes[done : want_size - size],
            )
            runs += part
            done = want_size - size
            if root_from_frontier(want_size, new_stack) != want_root:
                return None
            checked += 1
        part, new_stack = grow(
            size=size + done, frontier_hashes=new_stack, leaf_hashes=summary.hashes[done:]
        )
        runs += part
        new_size = size + n
        if stored_nodes is not None:
            got = stored_nodes(chunk[0][0], chunk[-1][0] + 1).get
            for level, first, hashes in runs:
                if [got((level, first + i)) for i in range(len(hashes))] != hashes:
                    return None
                nodes += len(hashes)
    return Advanced(
        expected + n, summary.hashes[-1].hex(), new_stack, new_size, checked, nodes, first_v2
    )


def _signers_ok(keys: KeyState, signers: frozenset[tuple[str, str]], *, index: int,
                kinds: KindRegistry) -> bool:
    """Whether each (actor, kind) may sign at ``index`` and every later index of the chunk.

    The chunk holds no key entry, so the key state is the same for all its leaves, and
    the only index-dependent rule (signed after its key's revocation) gives the same
    answer for every index after the last revocation, which lies before the chunk.
    """
    try:
        for actor, kind in signers:
            keys.signer(index=index, entry={"kind": kind, "actor": actor, "body": {}}, kinds=kinds)
    except Exception:
        return False
    return True
