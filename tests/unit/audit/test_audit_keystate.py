"""Who may sign what, replayed in log order: the rules shared by the sequencer and the audit."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.audit.keystate import KeyState
from ledger.errors import PolicyError
from ledger.model.roles import Role

from .logmaker import ADMIN, ADMIN2, CURATOR, OUTSIDER, Key


def entry(kind: str, body: dict[str, Any], by: Key) -> dict[str, Any]:
    return {"kind": kind, "actor": by.key_id, "body": body}


def replay(state: KeyState, index: int, e: dict[str, Any]) -> None:
    state.signer(index=index, entry=e)
    state.apply(index=index, entry=e)


@pytest.fixture
def state() -> KeyState:
    """After: 0 genesis admin, 1 curator added, 2 admin2 added."""
    s = KeyState()
    replay(s, 0, entry("key.added", ADMIN.added("admin"), ADMIN))
    replay(s, 1, entry("key.added", CURATOR.added("curator"), ADMIN))
    replay(s, 2, entry("key.added", ADMIN2.added("admin"), ADMIN))
    return s


def test_genesis_adds_an_admin_signed_by_itself() -> None:
    s = KeyState()
    record = s.signer(index=0, entry=entry("key.added", ADMIN.added("admin"), ADMIN))
    assert (record.name, record.role, record.added_idx) == ("admin", Role.ADMIN, 0)


@pytest.mark.parametrize(
    ("e", "message"),
    [
        (entry("key.added", CURATOR.added("curator"), CURATOR), "must add an admin key"),
        (entry("key.added", ADMIN.added("admin"), ADMIN2), "signed by the admin key it adds"),
        (entry("key.revoked", {"key_id": ADMIN.key_id}, ADMIN), "must add an admin key"),
        (entry("key.added", {**ADMIN.added("admin"), "key_id": ADMIN2.key_id}, ADMIN2),
         "key_id does not match its public key"),
    ],
    ids=["not-admin", "signed-by-another", "not-key-added", "key-id-mismatch"],
)
def test_genesis_rules(e: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        replay(KeyState(), 0, e)


def test_unknown_key_cannot_sign(state: KeyState) -> None:
    with pytest.raises(PolicyError, match="unknown key"):
        state.signer(index=3, entry=entry("key.added", OUTSIDER.added("verifier"), OUTSIDER))


def test_a_key_cannot_sign_its_own_addition(state: KeyState) -> None:
    with pytest.raises(PolicyError, match="unknown key"):
        state.signer(index=3, entry=entry("key.added", OUTSIDER.added("admin"), OUTSIDER))


def test_role_must_allow_the_kind(state: KeyState) -> None:
    with pytest.raises(PolicyError, match=r"role curator; key\.added needs one of admin"):
        state.signer(index=3, entry=entry("key.added", OUTSIDER.added("verifier"), CURATOR))


def test_revoked_key_signs_nothing_after_its_revocation(state: KeyState) -> None:
    replay(state, 3, entry("key.revoked", {"key_id": ADMIN2.key_id}, ADMIN))
    record = state.by_id[ADMIN2.key_id]
    assert record.revoked_idx == 3
    assert record.active_at(3) and not record.active_at(4)
    with pytest.raises(PolicyError, match="admin2 was revoked at index 3"):
        state.signer(index=4, entry=entry("key.added", OUTSIDER.added("verifier"), ADMIN2))


def test_a_key_may_revoke_itself(state: KeyState) -> None:
    replay(state, 3, entry("key.revoked", {"key_id": ADMIN2.key_id}, ADMIN2))
    assert state.by_id[ADMIN2.key_id].revoked_idx == 3


def test_key_is_active_from_the_entry_after_its_addition(state: KeyState) -> None:
    record = state.by_id[CURATOR.key_id]
    assert not record.active_at(1) and record.active_at(2)
    assert state.active_named("cura", index=2) == record
    assert state.active_named("cura", index=1) is None


def test_same_key_cannot_be_added_twice(state: KeyState) -> None:
    with pytest.raises(PolicyError, match="already in the ledger"):
        state.apply(index=3, entry=entry("key.added", CURATOR.added("verifier"), ADMIN))


def test_active_names_are_unique(state: KeyState) -> None:
    renamed = {**OUTSIDER.added("verifier"), "name": "cura"}
    with pytest.raises(PolicyError, match="already named cura"):
        state.apply(index=3, entry=entry("key.added", renamed, ADMIN))
    # Once revoked, the name is free again (key rotation).
    state.apply(index=3, entry=entry("key.revoked", {"key_id": CURATOR.key_id}, ADMIN))
    state.apply(index=4, entry=entry("key.added", renamed, ADMIN))
    assert state.active_named("cura", index=5).key_id == OUTSIDER.key_id  # type: ignore[union-attr]


def test_revocation_rules(state: KeyState) -> None:
    with pytest.raises(PolicyError, match="cannot revoke unknown key"):
        state.apply(index=3, entry=entry("key.revoked", {"key_id": OUTSIDER.key_id}, ADMIN))
    state.apply(index=3, entry=entry("key.revoked", {"key_id": CURATOR.key_id}, ADMIN))
    with pytest.raises(PolicyError, match="already revoked"):
        state.apply(index=4, entry=entry("key.revoked", {"key_id": CURATOR.key_id}, ADMIN))


def test_other_kinds_change_no_keys(state: KeyState) -> None:
    before = dict(state.by_id)
    state.apply(index=3, entry={"kind": "image.registered", "actor": ADMIN.key_id, "body": {}})
    assert state.by_id == before


def test_the_last_active_admin_cannot_be_revoked(state: KeyState) -> None:
    """A rule of the replay itself, so the sequencer and the audit both enforce it."""
    replay(state, 3, entry("key.revoked", {"key_id": ADMIN.key_id}, ADMIN2))  # admin2 remains
    with pytest.raises(PolicyError, match="last active admin"):
        replay(state, 4, entry("key.revoked", {"key_id": ADMIN2.key_id}, ADMIN2))
    assert state.by_id[ADMIN2.key_id].revoked_idx is None


def test_revoking_a_non_admin_needs_no_other_admin() -> None:
    s = KeyState()
    replay(s, 0, entry("key.added", ADMIN.added("admin"), ADMIN))
    replay(s, 1, entry("key.added", CURATOR.added("curator"), ADMIN))
    replay(s, 2, entry("key.revoked", {"key_id": CURATOR.key_id}, ADMIN))
    assert s.by_id[CURATOR.key_id].revoked_idx == 2
