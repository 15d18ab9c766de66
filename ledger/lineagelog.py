"""Derivation rules against a stored log: the append's check and the audit's replay.

The rules are :mod:`ledger.audit.derivationrules`; this module feeds them from the store.
An append reads the (two) leaves an image.derived entry names, straight from the log, and
walks the ``derivations`` projection for a cycle; the audit, after the projections were
compared with the log, checks every image.derived leaf against the ``images`` rows and the
whole graph for a cycle once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from ledger.audit.derivationrules import (
    Registered,
    acyclic_or_first_cycle,
    check_no_cycle,
    check_refs,
)
from ledger.errors import PolicyError, VerificationError
from ledger.model.projection import Change, Projections
from ledger.projections import changes_of
from ledger.store import Store, locked_write, reading
from ledger.store.derivations import edges_from, image_digests, leaves_of_kind
from ledger.store.projected import apply_changes, empty_tables

DERIVED = "image.derived"


def _registered_facts(entry: Any) -> Registered | None:
    if not isinstance(entry, dict) or entry.get("kind") != "image.registered":
        return None
    image = entry["body"]["image"]
    return Registered(image["file_sha256"], image["pixel_sha256"])


@dataclass
class DerivationCheck:
    """The sequencer's view, inside its transaction: ``check`` then ``apply`` each entry of
    a batch in order (a batch may register a child and derive it)."""

    store: Store
    conn: Connection
    images: dict[int, Registered | None] = field(default_factory=dict)
    edges: dict[int, list[int]] = field(default_factory=dict)  # this batch's edges

    def check(self, *, index: int, entry: dict[str, Any]) -> None:
        if entry["kind"] != DERIVED:
            return
        body = entry["body"]
        check_refs(index=index, body=body, registered=self._registered)
        check_no_cycle(parent=body["parent"]["index"], child=body["child"]["index"],
                       children=self._children)

    def apply(self, *, index: int, entry: dict[str, Any]) -> None:
        if entry["kind"] == "image.registered":
            self.images[index] = _registered_facts(entry)
        elif entry["kind"] == DERIVED:
            body = entry["body"]
            self.edges.setdefault(body["parent"]["index"], []).append(body["child"]["index"])

    def _registered(self, index: int) -> Registered | None:
        if index not in self.images:
            leaf, _ = self.store.leaf(self.conn, index)
            try:
                self.images[index] = _registered_facts(json.loads(leaf)["envelope"]["entry"])
            except (ValueError, KeyError, TypeError):  # a damaged leaf names no image
                self.images[index] = None
        return self.images[index]

    def _children(self, node: int) -> list[int]:
        stored = [child for _, _, child, _ in edges_from(self.conn, [node])]
        return stored + self.edges.get(node, [])


def audit_derivations(store: Store, conn: Connection) -> int:
    """Every image.derived leaf against the (already compared) ``images`` rows, then the
    graph for a cycle; VerificationError at the first entry that breaks a rule. Returns
    how many edges were checked."""
    edges: list[tuple[int, int, int]] = []
    bodies: list[tuple[int, dict[str, Any]]] = []  # only the two references of each body
    for index, leaf in leaves_of_kind(conn, DERIVED):
        try:
            body = json.loads(leaf)["envelope"]["entry"]["body"]
            edges.append((index, body["parent"]["index"], body["child"]["index"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise VerificationError("malformed leaf", index=index) from exc
        bodies.append((index, {"parent": body["parent"], "child": body["child"]}))
    digests = image_digests(conn, [n for _, p, c in edges for n in (p, c)])

    def registered(at: int) -> Registered | None:
        found = digests.get(at)
        return None if found is None else Registered(*found)

    for index, body in bodies:
        try:
            check_refs(index=index, body=body, registered=registered)
        except PolicyError as exc:
            raise VerificationError(exc.message, index=index) from exc
    cycle = acyclic_or_first_cycle(edges)
    if cycle is not None:
        raise VerificationError("image.derived closes a cycle in the derivation graph",
                                index=cycle)
    return len(edges)


UIDS_FILLED = "image_uids_filled"  # meta key: the image_uids projection covers the log


def fill_image_uids(store: Store, projections: Projections) -> int:
    """Once per ledger: fill the ``image_uids`` projection from the image.registered leaves
    a ledger made before the table existed already holds (it was created empty on open).
    Returns how many rows were written (0 when already done)."""
    with reading(store.engine) as conn:
        if store.get_meta(conn, UIDS_FILLED) is not None:
            return 0
    written = 0
    with locked_write(store.engine) as conn:
        if store.get_meta(conn, UIDS_FILLED) is not None:
            return 0
        empty_tables(conn, ["image_uids"])
        batch: list[Change] = []
        for index, leaf, _hash, kind, _actor in store.iter_leaves(conn):
            if kind != "image.registered":
                continue
            try:
                entry = json.loads(leaf)["envelope"]["entry"]
                changes = changes_of(index, entry, projections)
            except (ValueError, KeyError, TypeError):
                continue  # verify names a malformed leaf; nothing to project from it
            batch.extend(c for c in changes if c.table == "image_uids")
            if len(batch) >= 4096:
                apply_changes(conn, batch)
                written, batch = written + len(batch), []
        apply_changes(conn, batch)
        written += len(batch)
        store.set_meta(conn, UIDS_FILLED, "1")
    return written
