"""Replays source.added / source.changed and dataset use in log order: who may register what.

Two rules of the log, checked when an entry is appended and again when an auditor replays
the log, by this one class, so the two can never disagree:

* Sources. Once ``source.added`` declares a source, an image.registered entry under that
  source name must be signed by one of its listed keys. Entries under a source name that
  no ``source.added`` has declared (yet) are accepted as before: the name is unclaimed.
* Datasets. A dataset name (the label without ``@VERSION``) belongs to the key that signed
  the first image.registered entry using it; entries by any other key adding to it, in any
  version, are refused.

Admin keys may register under any source and add to any dataset.
Versions (dataset.versioned) follow the same owner: ``ledger.audit.datasetrules``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.audit.datasetrules import VERSIONED, DatasetVersions
from ledger.audit.keystate import KeyRecord, KeyState
from ledger.errors import PolicyError
from ledger.model.origin import dataset_name
from ledger.model.roles import Role

SOURCE_KINDS = ("source.added", "source.changed")


@dataclass
class SourceState:
    """Sources (name -> allowed key ids) and dataset owners (name -> key id) as of some index.

    ``check`` then ``apply`` each entry in order. Owners need only be loaded for the dataset
    names of the entries that will be checked."""

    allowed: dict[str, frozenset[str]] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    versions: DatasetVersions = field(default_factory=DatasetVersions)

    def check(self, *, entry: dict[str, Any], signer: KeyRecord, keys: KeyState) -> None:
        """PolicyError if ``signer`` may not append ``entry`` under these rules."""
        kind, body = entry["kind"], entry["body"]
        if kind in SOURCE_KINDS:
            self._check_declaration(kind, body, keys)
        elif kind == "image.registered" and signer.role != Role.ADMIN:
            self._check_registration(body, signer, keys)
        elif kind == VERSIONED:
            self.versions.check(body=body, signer=signer, keys=keys,
                                owner=self.owners.get(body["name"]))

    def apply(self, *, entry: dict[str, Any], index: int | None = None) -> None:
        """Record the effect of an accepted entry (``index``: its log index, which a
        dataset.versioned entry needs); other kinds change nothing."""
        kind, body = entry["kind"], entry["body"]
        if kind in SOURCE_KINDS:
            self.allowed[body["name"]] = frozenset(body["keys"])
        elif kind == "image.registered" and body.get("dataset"):
            self.owners.setdefault(dataset_name(body["dataset"]), entry["actor"])
        elif kind == VERSIONED:
            self.owners.setdefault(body["name"], body["owner"])
            if index is None:
                raise ValueError("a dataset.versioned entry is applied with its index")
            self.versions.apply(index=index, body=body)

    def _check_declaration(self, kind: str, body: dict[str, Any], keys: KeyState) -> None:
        name = body["name"]
        if kind == "source.added" and name in self.allowed:
            raise PolicyError(f"source {name!r} is already declared; change its keys instead")
        if kind == "source.changed" and name not in self.allowed:
            raise PolicyError(f"source {name!r} was never declared; add it first")
        unknown = [k for k in body["keys"] if k not in keys.by_id]
        if unknown:
            raise PolicyError(f"source {name!r}: unknown key {unknown[0][:16]}")

    def _check_registration(self, body: dict[str, Any], signer: KeyRecord, keys: KeyState
                            ) -> None:  # fmt: skip
        source = body["source"]
        allowed = self.allowed.get(source)
        if allowed is not None and signer.key_id not in allowed:
            raise PolicyError(f"key {signer.name} may not register under source {source!r}")
        label = body.get("dataset")
        if not label:
            return
        name = dataset_name(label)
        owner = self.owners.get(name)
        if owner is not None and owner != signer.key_id:
            held_by = keys.by_id[owner].name if owner in keys.by_id else owner[:16]
            raise PolicyError(
                f"dataset {name!r} belongs to key {held_by}; key {signer.name} may not add to it"
            )
