"""dataset.versioned rules: owner, version chain; replayed by SourceState with the labels."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.audit.sourcestate import SourceState
from ledger.errors import PolicyError

from .test_sourcestate import ADMIN, KEYS, MGH, OTHER, image


def versioned(actor: str, name: str, version: int, previous: int | None, *,
              owner: str | None = None, withdrawn: tuple[int, ...] = ()) -> dict[str, Any]:
    return {"kind": "dataset.versioned", "actor": actor, "body": {
        "name": name, "version": version, "owner": owner or actor, "previous": previous,
        "withdrawn": list(withdrawn)}}  # fmt: skip


def run(state: SourceState, index: int, entry: dict[str, Any]) -> None:
    signer = KEYS.by_id[entry["actor"]]
    state.check(entry=entry, signer=signer, keys=KEYS)
    state.apply(entry=entry, index=index)


def test_versions_count_up_and_name_the_previous_entry() -> None:
    state = SourceState()
    run(state, 10, versioned(MGH.key_id, "chest", 1, None))
    with pytest.raises(PolicyError, match="version 3 does not follow version 1"):
        run(state, 11, versioned(MGH.key_id, "chest", 3, 10))
    with pytest.raises(PolicyError, match="previous is 9, the last version is at 10"):
        run(state, 11, versioned(MGH.key_id, "chest", 2, 9))
    run(state, 11, versioned(MGH.key_id, "chest", 2, 10, withdrawn=(4,)))
    with pytest.raises(PolicyError, match="version 2 does not follow version 2"):
        run(state, 12, versioned(MGH.key_id, "chest", 2, 10))
    with pytest.raises(PolicyError, match="a first version has no previous members"):
        run(state, 12, versioned(MGH.key_id, "other-set", 1, None, withdrawn=(4,)))


def test_only_the_owner_or_an_admin_versions() -> None:
    state = SourceState()
    run(state, 5, versioned(MGH.key_id, "chest", 1, None))
    with pytest.raises(PolicyError, match="belongs to key mgh; key other may not version it"):
        run(state, 6, versioned(OTHER.key_id, "chest", 2, 5, owner=MGH.key_id))
    with pytest.raises(PolicyError, match="belongs to key mgh, not the owner named"):
        run(state, 6, versioned(OTHER.key_id, "chest", 2, 5))
    run(state, 6, versioned(ADMIN.key_id, "chest", 2, 5, owner=MGH.key_id))
    with pytest.raises(PolicyError, match="unknown owner key"):
        run(state, 7, versioned(ADMIN.key_id, "new", 1, None, owner="d" * 64))


def test_a_registration_label_and_a_version_share_one_owner() -> None:
    state = SourceState()
    state.check(entry=image(OTHER, "site", "lab@1"), signer=OTHER, keys=KEYS)
    state.apply(entry=image(OTHER, "site", "lab@1"))
    with pytest.raises(PolicyError, match="dataset 'lab' belongs to key other"):
        run(state, 3, versioned(MGH.key_id, "lab", 1, None))
    run(state, 3, versioned(OTHER.key_id, "lab", 1, None))
    run(state, 4, versioned(MGH.key_id, "scans", 1, None))  # a version claims a new name
    with pytest.raises(PolicyError, match="dataset 'scans' belongs to key mgh"):
        state.check(entry=image(OTHER, "site", "scans@1"), signer=OTHER, keys=KEYS)


def test_a_version_is_applied_with_its_index() -> None:
    with pytest.raises(ValueError, match="with its index"):
        SourceState().apply(entry=versioned(MGH.key_id, "chest", 1, None))
