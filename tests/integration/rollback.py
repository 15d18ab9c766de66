"""What an attacker with database access does to roll a log back without the log key.

Works on an open DB-API connection (sqlite3, or psycopg on PostgreSQL with the
append-only triggers disabled), so the SQLite and PostgreSQL tests share it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from ledger.log.tree import appended_nodes
from ledger.store.tables import node_key


def rows(conn: Any, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    return list(conn.execute(sql, params).fetchall())


def rebuild_tree(conn: Any, param: str = "?") -> None:
    """Recompute every tree node from the leaves as they now are (a careful attacker)."""
    leaves = rows(conn, "SELECT leaf FROM log_leaves ORDER BY idx")
    hashes = [hashlib.sha256(b"\x00" + bytes(leaf)).digest() for (leaf,) in leaves]
    conn.execute("DELETE FROM tree_nodes")
    for level, index, digest in appended_nodes(size=0, frontier_hashes=[], leaf_hashes=hashes):
        conn.execute(f"INSERT INTO tree_nodes (key, hash) VALUES ({param}, {param})",  # noqa: S608
                     (node_key(level, index), digest))
    conn.execute(f"DELETE FROM checkpoints WHERE size > {param}", (len(hashes),))  # noqa: S608


def truncate(conn: Any, keep: int, param: str = "?") -> None:
    """Delete every entry from index ``keep`` on, and their projections, then rebuild."""
    conn.execute(f"DELETE FROM log_leaves WHERE idx >= {param}", (keep,))  # noqa: S608
    conn.execute(f"DELETE FROM keys WHERE added_idx >= {param}", (keep,))  # noqa: S608
    conn.execute(f"UPDATE keys SET revoked_idx = NULL WHERE revoked_idx >= {param}",  # noqa: S608
                 (keep,))
    rebuild_tree(conn, param)


def leaf_of(conn: Any, idx: int, param: str = "?") -> dict[str, Any]:
    (leaf,) = rows(conn, f"SELECT leaf FROM log_leaves WHERE idx = {param}", (idx,))[0]  # noqa: S608
    return json.loads(bytes(leaf))


def rewrite_leaf(conn: Any, idx: int, leaf: dict[str, Any], param: str = "?") -> None:
    """Store ``leaf`` at ``idx`` with its hashes right, then rebuild the tree."""
    data = rfc8785.dumps(leaf)
    envelope = hashlib.sha256(rfc8785.dumps(leaf["envelope"])).digest()
    p = param
    conn.execute(f"UPDATE log_leaves SET leaf = {p}, leaf_hash = {p}, envelope_hash = {p} "  # noqa: S608
                 f"WHERE idx = {p}",
                 (data, hashlib.sha256(b"\x00" + data).digest(), envelope, idx))
    rebuild_tree(conn, param)


def insert_leaf(conn: Any, idx: int, envelope: dict[str, Any], param: str = "?") -> None:
    """Append ``envelope`` as leaf ``idx`` behind the sequencer's back, chained right."""
    (prev,) = rows(conn, f"SELECT leaf_hash FROM log_leaves WHERE idx = {param}",  # noqa: S608
                   (idx - 1,))[0]
    data = rfc8785.dumps({"envelope": envelope, "prev": bytes(prev).hex()})
    p = param
    conn.execute(
        f"INSERT INTO log_leaves (idx, leaf, leaf_hash, envelope_hash, kind, actor) "  # noqa: S608
        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
        (idx, data, hashlib.sha256(b"\x00" + data).digest(),
         hashlib.sha256(rfc8785.dumps(envelope)).digest(), envelope["entry"]["kind"],
         envelope["entry"]["actor"]))
    rebuild_tree(conn, param)
