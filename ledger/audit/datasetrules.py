"""The rules of dataset.versioned, replayed in log order with the source rules.

* A dataset name belongs to one key (``SourceState.owners``): the signer of the first
  image.registered entry labelled with it, or the owner named by its first version. Only
  that key, or an admin key on its behalf, versions the dataset, and the entry's ``owner``
  must name it.
* Versions count up from 1 without gaps; each names the entry index of the one before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.audit.keystate import KeyRecord, KeyState
from ledger.errors import PolicyError
from ledger.model.roles import Role

VERSIONED = "dataset.versioned"


@dataclass
class DatasetVersions:
    """Dataset name -> (latest version number, its entry index)."""

    latest: dict[str, tuple[int, int]] = field(default_factory=dict)

    def check(self, *, body: dict[str, Any], signer: KeyRecord, keys: KeyState,
              owner: str | None) -> None:  # fmt: skip
        """PolicyError if ``signer`` may not append this version."""
        name, claimed = body["name"], body["owner"]
        if owner is not None and claimed != owner:
            held_by = keys.by_id[owner].name if owner in keys.by_id else owner[:16]
            raise PolicyError(f"dataset {name!r} belongs to key {held_by}, not the owner named")
        if claimed not in keys.by_id:
            raise PolicyError(f"dataset {name!r}: unknown owner key {claimed[:16]}")
        if signer.role != Role.ADMIN and signer.key_id != claimed:
            held_by = keys.by_id[claimed].name
            raise PolicyError(
                f"dataset {name!r} belongs to key {held_by}; key {signer.name} may not version it"
            )
        version, index = self.latest.get(name, (0, None))
        if body["version"] != version + 1:
            raise PolicyError(
                f"dataset {name!r}: version {body['version']} does not follow version {version}"
            )
        if body["previous"] != index:
            raise PolicyError(
                f"dataset {name!r}: previous is {body['previous']}, the last version is at "
                f"{index}"
            )
        if index is None and body["withdrawn"]:
            raise PolicyError(f"dataset {name!r}: a first version has no previous members")

    def apply(self, *, index: int, body: dict[str, Any]) -> None:
        self.latest[body["name"]] = (body["version"], index)
