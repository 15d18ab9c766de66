"""Queries behind source rules: the sources projection and the first use of a dataset name.

Functions over an open connection, so the sequencer reads them inside its append
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, inspect, or_, select

from ledger.store.tables import ImageRow, LogLeaf, SourceRow

_SOURCES = SourceRow.__table__  # type: ignore[attr-defined]
_IMAGES = ImageRow.__table__  # type: ignore[attr-defined]
_LEAVES = LogLeaf.__table__  # type: ignore[attr-defined]


def sources(conn: Connection) -> list[SourceRow]:
    if not inspect(conn).has_table(_SOURCES.name):
        return []
    rows = conn.execute(select(_SOURCES).order_by(_SOURCES.c.name))
    return [SourceRow.model_validate(r._mapping) for r in rows]


def dataset_owners(conn: Connection, names: Iterable[str]) -> dict[str, str]:
    """Dataset name -> key id of the first image.registered entry that used it (any version)."""
    owners: dict[str, str] = {}
    for name in sorted(set(names)):
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (
            select(_LEAVES.c.actor)
            .select_from(_IMAGES.join(_LEAVES, _LEAVES.c.idx == _IMAGES.c.idx))
            .where(
                or_(
                    _IMAGES.c.dataset == name,
                    _IMAGES.c.dataset.like(escaped + "@%", escape="\\"),
                )
            )
            .order_by(_IMAGES.c.idx)
            .limit(1)
        )
        actor = conn.execute(query).scalar()
        if actor is not None:
            owners[name] = str(actor)
    return owners


__all__ = ["dataset_owners", "sources"]
