"""The source use cases: declare a source and its keys, change them, list them, and check
before a registration decodes a single file that its key may register there."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ledger.audit.keystate import KeyRecord, KeyState
from ledger.errors import InputError
from ledger.model.origin import check_name
from ledger.model.roles import Role
from ledger.service.ledger import Ledger
from ledger.sourcelog import source_state
from ledger.store import reading
from ledger.store.sources import sources


@dataclass(frozen=True)
class SourceInfo:
    name: str
    keys: list[dict[str, str]]  # {"name", "key_id"} of each allowed key
    added_index: int
    changed_index: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def add_source(ledger: Ledger, name: str, key_names: Sequence[str], *, by: str = "admin"
               ) -> SourceInfo:  # fmt: skip
    """Append a source.added entry (signed by admin key ``by``) allowing ``key_names``."""
    return _declare(ledger, "source.added", name, key_names, by=by)


def change_source(ledger: Ledger, name: str, key_names: Sequence[str], *, by: str = "admin"
                  ) -> SourceInfo:  # fmt: skip
    """Append a source.changed entry: ``key_names`` replace the source's allowed keys."""
    return _declare(ledger, "source.changed", name, key_names, by=by)


def list_sources(ledger: Ledger) -> list[SourceInfo]:
    names = {k.key_id: k.name for k in ledger.list_keys()}
    with reading(ledger.store.engine) as conn:
        rows = sources(conn)
    return [
        SourceInfo(
            r.name,
            [{"name": names.get(k, "?"), "key_id": k} for k in r.keys.split(",")],
            r.added_idx,
            r.changed_idx,
        )
        for r in rows
    ]


def check_may_register(ledger: Ledger, *, key: str, source: str, dataset: str | None) -> None:
    """PolicyError unless key ``key`` may register under ``source`` (and add to ``dataset``),
    by the same rules the sequencer applies when the entries are appended."""
    key_id = ledger.key_info(key).key_id
    entry = {"kind": "image.registered", "actor": key_id,
             "body": {"source": source, **({"dataset": dataset} if dataset else {})}}  # fmt: skip
    with reading(ledger.store.engine) as conn:
        # An early answer before anything is decoded; the sequencer decides again at append
        # with the key state proven from the signed log (ledger.guard).
        keys = KeyState([
            KeyRecord(r.key_id, r.name, Role(r.role), base64.b64decode(r.public_key),
                      r.added_idx, r.revoked_idx)
            for r in ledger.store.keys(conn)
        ])
        state = source_state(ledger.store, conn, [entry])
    state.check(entry=entry, signer=keys.by_id[key_id], keys=keys)


def _declare(ledger: Ledger, kind: str, name: str, key_names: Sequence[str], *, by: str
             ) -> SourceInfo:  # fmt: skip
    check_name("source", name)
    if not key_names:
        raise InputError("name at least one key (--key) that may register under the source")
    key_ids = sorted({ledger.key_info(k).key_id for k in key_names})
    signer = ledger.signing_key(by)
    ledger.submit([ledger.sign(kind, {"name": name, "keys": key_ids}, key=signer)])
    return next(s for s in list_sources(ledger) if s.name == name)


__all__ = ["SourceInfo", "add_source", "change_source", "check_may_register", "list_sources"]
