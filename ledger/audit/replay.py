"""The full audit of a log: every leaf, the chain, every signer, the tree and checkpoints.

Leaves stream through in chunks; per-leaf work (parsing, canonical form,
Ed25519) runs on worker processes, while the order-dependent checks (chain,
key validity, Merkle frontier) replay sequentially. The first bad index wins.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from ledger.audit.binding import v1_after_v2
from ledger.audit.fastpath import ChunkSummary, advance, summarize_tree
from ledger.audit.keystate import KeyState
from ledger.audit.leaves import LeafFacts, check_chunk, check_rows, init_worker, prev_of
from ledger.audit.projections import Failure, Plan, Projected, ProjectionAudit, project_rows
from ledger.audit.rangecheck import settle, sqlite_range
from ledger.errors import PolicyError, VerificationError
from ledger.log.chain import GENESIS_PREV
from ledger.log.hashing import EMPTY_ROOT, leaf_hash
from ledger.log.tree import append_leaves, root_from_frontier
from ledger.model.kinds import KindRegistry
from ledger.model.registry import DEFAULT_KINDS
from ledger.processes import forkserver_context

CHUNK = 4096
# (stored idx, leaf bytes, stored leaf hash, stored kind, stored actor)
Row = tuple[int, bytes, bytes, str, str]
StoredNodes = Callable[[int, int], dict[tuple[int, int], bytes]]


@dataclass
class AuditReport:
    size: int = 0
    root: bytes = EMPTY_ROOT
    signatures: int = 0
    checkpoints: int = 0
    tree_nodes: int = 0
    keys: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    projection_rows: int = 0  # rows of projection tables rebuilt and compared
    findings: int = 0  # duplicate-finding rows re-checked
    warnings: list[str] = field(default_factory=list)  # e.g. purged grids: not tamper
    recoveries: list[str] = field(default_factory=list)  # recorded by ``medledger recover``


class _Frontier:
    """The right edge of the Merkle tree: the hashes of ``frontier(size)``, grown by
    :func:`ledger.log.tree.append_leaves` (the one implementation of the tree's growth)."""

    def __init__(self) -> None:
        self.stack: list[bytes] = []
        self.size = 0

    def push(self, digest: bytes) -> list[tuple[int, int, bytes]]:
        made, self.stack = append_leaves(
            size=self.size, frontier_hashes=self.stack, leaf_hashes=[digest]
        )
        self.size += 1
        return made

    def root(self) -> bytes:
        return root_from_frontier(self.size, self.stack)


def audit_log(
    rows: Iterable[Row],
    *,
    log_id: str,
    public_keys: dict[str, bytes],
    checkpoints: Sequence[tuple[int, bytes]],
    stored_nodes: StoredNodes | None,
    signatures: bool = True,
    workers: int = 1,
    start: int = 0,
    prev: str = GENESIS_PREV,
    keys: KeyState | None = None,
    first_v2: int | None = None,
    projector: ProjectionAudit | None = None,
    kinds: KindRegistry = DEFAULT_KINDS,
) -> AuditReport:
    """Replay the log ``log_id`` (its checkpoint key's id) from ``start`` (with the chain's
    ``prev``, the ``keys`` and the index of the first v2 entry as of there); raise
    VerificationError at the first bad index. Tree nodes and checkpoints are only
    checked from index 0. A ``projector`` is given every chunk's projected rows (computed
    by the same workers); the caller compares them after."""
    report = AuditReport()
    keys = keys or KeyState()
    frontier = _Frontier()
    pending = sorted(checkpoints) if start == 0 else []
    while pending and pending[0][0] == 0:  # the empty tree's checkpoints come first
        _check_checkpoint(pending.pop(0), EMPTY_ROOT)
        report.checkpoints += 1
    expected = start
    plan = projector.plan if projector is not None else None
    for chunk, result, changes in _checked_chunks(rows, public_keys, log_id,
                                                  signatures=signatures, workers=workers,
                                                  plan=plan, kinds=kinds):
        if projector is not None and changes is not None:
            projector.add(changes, (chunk[0][0], chunk[-1][0]) if chunk else None)
        if isinstance(result, ChunkSummary):  # an intact chunk at once, else leaf by leaf
            state = advance(chunk, result, expected=expected, prev=prev, keys=keys,
                            signatures=signatures, stack=frontier.stack, size=frontier.size,
                            tree=start == 0, pending=pending,
                            stored_nodes=stored_nodes if start == 0 else None,
                            first_v2=first_v2, kinds=kinds)
            if state is not None:
                expected, prev, first_v2 = state.expected, state.prev, state.first_v2
                frontier.stack, frontier.size = state.stack, state.size
                del pending[: state.checkpoints]
                report.checkpoints += state.checkpoints
                report.tree_nodes += state.tree_nodes
                for kind, count in result.kinds.items():
                    report.kinds[kind] = report.kinds.get(kind, 0) + count
                continue
            result = _leaf_facts(chunk, public_keys, log_id, signatures=signatures, kinds=kinds)
        facts = result
        stored = (
            stored_nodes(chunk[0][0], chunk[-1][0] + 1)
            if stored_nodes is not None and chunk and start == 0
            else None
        )
        for row, fact in zip(chunk, facts, strict=True):
            idx, _leaf, stored_hash, stored_kind, stored_actor = row
            if idx != expected:
                raise VerificationError(f"index {expected} is missing (next stored is {idx})",
                                        index=expected)
            if fact.error:
                raise VerificationError(fact.error, index=idx)
            if fact.leaf_hash != stored_hash:
                raise VerificationError("stored leaf hash differs from the leaf's hash", index=idx)
            if fact.prev != prev:
                raise VerificationError(
                    f"hash chain broken: prev is {fact.prev[:16]}, "
                    f"previous leaf hash is {prev[:16]}",
                    index=idx)
            if signatures:
                _replay_keys(keys, fact, stored_kind=stored_kind, stored_actor=stored_actor,
                             kinds=kinds)
                if fact.version == 2 and first_v2 is None:
                    first_v2 = idx
                elif fact.version == 1 and first_v2 is not None:
                    raise VerificationError(v1_after_v2(first_v2), index=idx)
                report.kinds[fact.kind] = report.kinds.get(fact.kind, 0) + 1
            prev = fact.leaf_hash.hex()
            expected += 1
            if start == 0:
                made = frontier.push(fact.leaf_hash)
                if stored is not None:  # per leaf, so the first bad index wins
                    report.tree_nodes += _compare_nodes(
                        {(level, i): h for level, i, h in made}, stored
                    )
            while pending and pending[0][0] == frontier.size:
                _check_checkpoint(pending.pop(0), frontier.root())
                report.checkpoints += 1
    if pending:
        size = expected
        raise VerificationError(
            f"log has {size} entries but a checkpoint covers {pending[-1][0]}: entries from "
            f"index {size} are gone (truncated or rolled back)", index=size)
    report.size, report.root = expected, frontier.root()
    report.signatures = expected - start if signatures else 0
    report.keys = len(keys.by_id)
    return report


def _replay_keys(keys: KeyState, fact: LeafFacts, *, stored_kind: str, stored_actor: str,
                 kinds: KindRegistry) -> None:
    if (fact.kind, fact.actor) != (stored_kind, stored_actor):
        raise VerificationError("stored kind/actor columns differ from the signed entry",
                                index=fact.index)
    entry = {"kind": fact.kind, "actor": fact.actor, "body": fact.key_body or {}}
    try:
        keys.signer(index=fact.index, entry=entry, kinds=kinds)
        keys.apply(index=fact.index, entry=entry)
    except PolicyError as exc:
        raise VerificationError(exc.message, index=fact.index) from exc


def _check_checkpoint(checkpoint: tuple[int, bytes], root: bytes) -> None:
    size, expected = checkpoint
    if root != expected:
        raise VerificationError(
            f"root at size {size} is {root.hex()}, the checkpoint says {expected.hex()}",
            index=size - 1 if size else None)


def _compare_nodes(made: dict[tuple[int, int], bytes], stored: dict[tuple[int, int], bytes]) -> int:
    for coord, digest in made.items():
        if stored.get(coord) != digest:
            level, i = coord
            raise VerificationError(f"stored tree node level {level} index {i} is wrong or missing",
                                    index=i << level)
    return len(made)


def _leaf_facts(chunk: list[Row], public_keys: dict[str, bytes], log_id: str, *,
                signatures: bool, kinds: KindRegistry) -> list[LeafFacts]:
    """Every leaf's facts, checked in this process (a chunk the fast path did not settle)."""
    if not signatures:
        return [_tree_facts(idx, leaf) for idx, leaf, *_ in chunk]
    init_worker(public_keys, log_id, kinds)
    return check_chunk([(r[0], r[1]) for r in chunk])


Checked = list[LeafFacts] | ChunkSummary


MaybeProjected = Projected | Failure | None


def _check_and_project(rows: list[Row], plan: Plan | None) -> tuple[Checked, MaybeProjected]:
    """A worker's task: the chunk's checks and, when asked, its projected rows (from the
    entries the checks parsed when the chunk is intact: one parse per leaf); the tables
    ``plan.direct`` names compared here with the stored rows (``rangecheck``)."""
    if plan is None:
        return check_rows(rows), None
    entries: list[Any] = []
    checked = check_rows(rows, entries=entries)
    parsed = entries if isinstance(checked, ChunkSummary) else None
    projected = project_rows(rows, plan, entries=parsed)
    if plan.database is None or not plan.direct or not rows:
        return checked, projected
    try:
        stored = sqlite_range(plan.database, plan.columns)
        return checked, settle(projected, plan, (rows[0][0], rows[-1][0]), stored)
    except sqlite3.Error:  # the file unreadable from here: the main process compares
        return checked, projected


def _checked_chunks(
    rows: Iterable[Row], public_keys: dict[str, bytes], log_id: str, *, signatures: bool,
    workers: int, plan: Plan | None = None, kinds: KindRegistry = DEFAULT_KINDS,
) -> Iterator[tuple[list[Row], Checked, MaybeProjected]]:
    chunks = _chunked(rows)
    if not signatures:
        for chunk in chunks:
            summary = summarize_tree(chunk)
            projected = None if plan is None else project_rows(chunk, plan)
            yield (chunk, summary or _leaf_facts(chunk, public_keys, log_id, signatures=False,
                                                 kinds=kinds), projected)
        return
    if workers <= 1:  # the main process compares every table (no second connection)
        init_worker(public_keys, log_id, kinds)
        local = plan if plan is None else replace(plan, direct=frozenset(), database=None)
        for chunk in chunks:
            yield chunk, *_check_and_project(chunk, local)
        return
    context = forkserver_context()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker,
                             initargs=(public_keys, log_id, kinds)) as pool:
        inflight: list[tuple[list[Row], Future[tuple[Checked, MaybeProjected]]]] = []
        for chunk in chunks:
            inflight.append((chunk, pool.submit(_check_and_project, chunk, plan)))
            if len(inflight) > 2 * workers:
                done_chunk, future = inflight.pop(0)
                yield done_chunk, *future.result()
        for done_chunk, future in inflight:
            yield done_chunk, *future.result()


def _tree_facts(idx: int, leaf: bytes) -> LeafFacts:
    prev = prev_of(leaf)
    error = None if prev is not None else "malformed leaf: no prev at its end"
    return LeafFacts(idx, leaf_hash(leaf), prev or "", "", "", None, error)


def _chunked(rows: Iterable[Row]) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
