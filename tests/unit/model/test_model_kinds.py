"""The open-ended registry of entry kinds."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from ledger.errors import InputError
from ledger.model import kinds
from ledger.model.keys import KeyAdded, KeyRevoked
from ledger.model.roles import Role


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A private copy of the registry: kinds registered here vanish after the test."""
    monkeypatch.setattr(kinds, "_KINDS", dict(kinds._KINDS))


def test_key_kinds_are_registered_for_admins_only() -> None:
    added, revoked = kinds.kind_spec("key.added"), kinds.kind_spec("key.revoked")
    assert (added.body, revoked.body) == (KeyAdded, KeyRevoked)
    assert added.roles == revoked.roles == frozenset({Role.ADMIN})


def test_roles() -> None:
    assert [str(r) for r in Role] == ["admin", "curator", "submitter", "verifier"]


def test_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(InputError, match=r"unknown entry kind 'image\.teleported'"):
        kinds.kind_spec("image.teleported")
    with pytest.raises(InputError, match=r"image\.teleported"):
        kinds.validate_body("image.teleported", {})


@pytest.mark.usefixtures("registry")
def test_register_a_new_kind() -> None:
    spec = kinds.register_kind("test.note", Note, roles=[Role.SUBMITTER], description="a note")
    assert kinds.kind_spec("test.note") is spec
    assert spec.roles == frozenset({Role.SUBMITTER, Role.ADMIN})  # admin may always sign
    assert spec in kinds.all_kinds()
    names = [k.name for k in kinds.all_kinds()]
    assert names == sorted(names)
    assert kinds.validate_body("test.note", {"text": "hi"}) == Note(text="hi")


@pytest.mark.usefixtures("registry")
def test_registering_twice() -> None:
    first = kinds.register_kind("test.note", Note, roles=(), description="a note")
    # The same declaration again (a module imported twice) is harmless ...
    kinds.register_kind("test.note", Note, roles=(), description="a note")
    assert kinds.kind_spec("test.note") == first
    # ... a different one is a programming error.
    with pytest.raises(ValueError, match="already registered differently"):
        kinds.register_kind("test.note", Note, roles=[Role.CURATOR], description="a note")
    assert kinds.kind_spec("test.note") == first


def test_registry_copy_did_not_leak() -> None:
    with pytest.raises(InputError):
        kinds.kind_spec("test.note")


@pytest.mark.parametrize(
    ("kind", "body", "where"),
    [
        ("key.added", {"name": "a", "role": "emperor", "public_key": "A" * 43 + "=",
                       "key_id": "0" * 64}, "role"),
        ("key.added", {"name": "../x", "role": "admin", "public_key": "A" * 43 + "=",
                       "key_id": "0" * 64}, "name"),
        ("key.added", {"name": "a", "role": "admin", "public_key": "short",
                       "key_id": "0" * 64}, "public_key"),
        ("key.added", {"name": "a", "role": "admin", "public_key": "A" * 43 + "="},
         "key_id"),
        ("key.added", {"name": "a", "role": "admin", "public_key": "A" * 43 + "=",
                       "key_id": "0" * 64, "extra": 1}, "extra"),
        ("key.revoked", {"key_id": "0" * 64, "reason": "r" * 501}, "reason"),
        ("key.revoked", {"key_id": 5}, "key_id"),
    ],
    ids=["bad-role", "bad-name", "bad-public-key", "no-key-id", "extra-field", "long-reason",
         "key-id-number"],
)
def test_body_errors_name_the_field(kind: str, body: dict[str, object], where: str) -> None:
    with pytest.raises(InputError) as caught:
        kinds.validate_body(kind, body)
    assert caught.value.diagnostics().startswith(f"malformed {kind} body: {where}")


def test_good_key_bodies() -> None:
    added = kinds.validate_body("key.added", {"name": "site-a.1", "role": "curator",
                                              "public_key": "A" * 43 + "=", "key_id": "0" * 64})
    assert added.role == Role.CURATOR  # type: ignore[attr-defined]
    revoked = kinds.validate_body("key.revoked", {"key_id": "0" * 64})
    assert revoked.reason == ""  # type: ignore[attr-defined]
