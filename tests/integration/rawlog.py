"""Writing envelopes straight into a ledger's database, past every check of the sequencer,
as an attacker with the database (or a buggy writer) would; the leaves, hashes and tree
nodes are well formed, so only the audit's rules can find what is wrong."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import rfc8785

from ledger.log.tree import appended_nodes, frontier
from ledger.projections import project
from ledger.service import Ledger
from ledger.store import locked_write


def write_directly(
    directory: Path, envelopes: Sequence[dict[str, Any]], *, projected: bool = False
) -> int:
    """Append ``envelopes`` as leaves without the sequencer; returns the first new index.

    ``projected``: also update the projection tables, as the sequencer would (a log
    written by an older version of the sequencer)."""
    ledger = Ledger.open(directory)
    store = ledger.store
    try:
        with locked_write(store.engine) as conn:
            size, tail = store.tail(conn)
            prev = tail.hex() if tail is not None else "0" * 64
            rows = []
            for offset, envelope in enumerate(envelopes):
                leaf = rfc8785.dumps({"prev": prev, "envelope": envelope})
                digest = hashlib.sha256(b"\x00" + leaf).digest()
                rows.append({
                    "idx": size + offset,
                    "leaf": leaf,
                    "leaf_hash": digest,
                    "envelope_hash": hashlib.sha256(rfc8785.dumps(envelope)).digest(),
                    "kind": envelope["entry"]["kind"],
                    "actor": envelope["entry"]["actor"],
                })
                prev = digest.hex()
            old = store.perfect_nodes(conn, frontier(size)) if size else {}
            nodes = appended_nodes(size=size, frontier_hashes=[old[c] for c in frontier(size)],
                                   leaf_hashes=[r["leaf_hash"] for r in rows])
            store.insert_leaves(conn, rows)
            store.insert_nodes(conn, nodes)
            if projected:
                for row, envelope in zip(rows, envelopes, strict=True):
                    project(store, conn, row["idx"], envelope["entry"])
    finally:
        store.engine.dispose()
    return size
