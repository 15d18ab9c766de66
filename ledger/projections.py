"""Projections: tables derived from the log, written in the same transaction as the entry.

Each entry kind may register one function that turns an accepted entry into rows
(keys, images, fingerprints, ...). They are rebuildable from the log alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from ledger.model.images import DUP_GRID
from ledger.store import Store
from ledger.store.tables import ImageRow, KeyRow, PolicyRow


def pack_keys(hex_keys: list[str]) -> bytes:
    """Index keys as stored: little-endian uint64s."""
    return b"".join(int(k, 16).to_bytes(8, "little") for k in hex_keys)


Projection = Callable[[Store, Connection, int, dict[str, Any]], None]
_PROJECTIONS: dict[str, Projection] = {}


def register_projection(kind: str, projection: Projection) -> None:
    _PROJECTIONS[kind] = projection


def project(store: Store, conn: Connection, index: int, entry: dict[str, Any]) -> None:
    projection = _PROJECTIONS.get(entry["kind"])
    if projection is not None:
        projection(store, conn, index, entry)


def _key_added(store: Store, conn: Connection, index: int, entry: dict[str, Any]) -> None:
    body = entry["body"]
    store.insert_key(
        conn,
        KeyRow(
            key_id=body["key_id"],
            name=body["name"],
            role=body["role"],
            public_key=body["public_key"],
            added_idx=index,
        ),
    )


def _key_revoked(store: Store, conn: Connection, index: int, entry: dict[str, Any]) -> None:
    store.mark_key_revoked(conn, key_id=entry["body"]["key_id"], idx=index)


def _image_registered(store: Store, conn: Connection, index: int, entry: dict[str, Any]) -> None:
    body = entry["body"]
    image = body["image"]
    reference = image["fingerprints"].get(DUP_GRID)
    store.insert_image(
        conn,
        ImageRow(
            idx=index,
            file_sha256=image["file_sha256"],
            pixel_sha256=image["pixel_sha256"],
            source=body["source"],
            dataset=body.get("dataset"),
            license=body["license"],
            consent=body["consent"],
            format=image["format"],
            registered=entry["time"],
            dup_keys=pack_keys(reference["keys"]) if reference else None,
            grid_sha256=reference["grid_sha256"] if reference else None,
        ),
    )


def _policy_changed(store: Store, conn: Connection, index: int, entry: dict[str, Any]) -> None:
    import json

    table = PolicyRow.__table__  # type: ignore[attr-defined]
    table.create(conn, checkfirst=True)  # ledgers made before the table existed
    body = entry["body"]
    conn.execute(table.delete().where(table.c.setting == body["setting"]))
    conn.execute(table.insert().values(setting=body["setting"], idx=index,
                                       value=json.dumps(body["value"], sort_keys=True)))


register_projection("key.added", _key_added)
register_projection("policy.changed", _policy_changed)
register_projection("image.registered", _image_registered)
register_projection("key.revoked", _key_revoked)
