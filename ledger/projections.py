"""Projections: tables derived from the log, written in the same transaction as the entry.

Each entry kind may register one pure function that turns an accepted entry into row
changes (``ledger.model.projection``) for tables listed in
``ledger.store.tables.PROJECTION_TABLES``. ``verify`` replays the same functions and
compares every such table row for row; ``rebuild`` recreates them from the log alone.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection

from ledger.audit.projections import ProjectionAudit, TableShape
from ledger.model.images import DUP_GRID
from ledger.model.projection import Change, Insert, Projection, Projections, Update
from ledger.store import Store
from ledger.store.projected import columns_of, key_of
from ledger.store.tables import PROJECTION_TABLES

_PROJECTIONS: dict[str, Projection] = {}


def pack_keys(hex_keys: list[str]) -> bytes:
    """Index keys as stored: little-endian uint64s."""
    return b"".join(int(k, 16).to_bytes(8, "little") for k in hex_keys)


def register_projection(kind: str, projection: Projection) -> None:
    _PROJECTIONS[kind] = projection


def registered() -> Projections:
    """Entry kind -> projection, for the audit and ``rebuild`` (a copy)."""
    return dict(_PROJECTIONS)


def changes_of(index: int, entry: dict[str, Any]) -> list[Change]:
    projection = _PROJECTIONS.get(entry["kind"])
    if projection is None:
        return []
    changes = projection(index, entry)
    for change in changes:  # a table outside the list would escape the audit
        if change.table not in PROJECTION_TABLES:
            raise ValueError(f"projection of {entry['kind']} writes {change.table}, "
                             "which is not in PROJECTION_TABLES")
    return changes


def differing_columns(index: int, entry: dict[str, Any], row: dict[str, Any]) -> list[str]:
    """The columns of a stored projection row (all or some of its columns) that differ from
    what ``entry`` (at ``index``) inserts into that table: one row checked against its leaf."""
    for change in changes_of(index, entry):
        if isinstance(change, Insert) and all(row.get(k) == change.values.get(k)
                                              for k in key_of(change.table)):
            return [c for c, want in change.values.items() if c in row and row[c] != want]
    return sorted(row)  # the entry makes no such row


def project(store: Store, conn: Connection, index: int, entry: dict[str, Any]) -> None:
    store.apply_changes(conn, changes_of(index, entry))


def _key_added(index: int, entry: dict[str, Any]) -> list[Change]:
    body = entry["body"]
    return [Insert("keys", {
        "key_id": body["key_id"],
        "name": body["name"],
        "role": body["role"],
        "public_key": body["public_key"],
        "added_idx": index,
        "revoked_idx": None,
    })]


def _key_revoked(index: int, entry: dict[str, Any]) -> list[Change]:
    return [Update("keys", {"key_id": entry["body"]["key_id"]}, {"revoked_idx": index})]


def _image_registered(index: int, entry: dict[str, Any]) -> list[Change]:
    body = entry["body"]
    image = body["image"]
    reference = image["fingerprints"].get(DUP_GRID)
    return [Insert("images", {
        "idx": index,
        "file_sha256": image["file_sha256"],
        "pixel_sha256": image["pixel_sha256"],
        "source": body["source"],
        "dataset": body.get("dataset"),
        "license": body["license"],
        "consent": body["consent"],
        "format": image["format"],
        "registered": entry["time"],
        "dup_keys": pack_keys(reference["keys"]) if reference else None,
        "grid_sha256": reference["grid_sha256"] if reference else None,
    })]


def _policy_changed(index: int, entry: dict[str, Any]) -> list[Change]:
    body = entry["body"]
    value = json.dumps(body["value"], sort_keys=True)
    return [Insert("policies", {"idx": index, "setting": body["setting"], "value": value})]


register_projection("key.added", _key_added)
register_projection("policy.changed", _policy_changed)
register_projection("image.registered", _image_registered)
register_projection("key.revoked", _key_revoked)


def _source(index: int, entry: dict[str, Any]) -> list[Change]:
    body = entry["body"]
    keys = ",".join(body["keys"])  # sorted by the entry model
    if entry["kind"] == "source.added":
        return [Insert("sources", {
            "name": body["name"], "keys": keys, "added_idx": index, "changed_idx": None,
        })]
    return [Update("sources", {"name": body["name"]}, {"keys": keys, "changed_idx": index})]


register_projection("source.added", _source)
register_projection("source.changed", _source)


def projection_audit() -> ProjectionAudit:
    """A fresh audit of every table in ``PROJECTION_TABLES`` against the registered
    projections (give it to ``audit_log``, then ``compare`` with the stored rows)."""
    shapes = [TableShape(name, columns_of(name), key_of(name)) for name in PROJECTION_TABLES]
    return ProjectionAudit(shapes, registered())
