"""Entry kinds: declared by their modules, gathered into immutable registries."""

from __future__ import annotations

import pickle

import pytest
from pydantic import BaseModel, ConfigDict

from ledger.errors import InputError
from ledger.model.keys import KeyAdded, KeyRevoked
from ledger.model.kinds import KindRegistry, kind
from ledger.model.registry import DEFAULT_KINDS, kind_spec, validate_body
from ledger.model.roles import Role


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str


NOTE = kind("test.note", Note, roles=[Role.SUBMITTER], description="a note")


def test_key_kinds_are_declared_for_admins_only() -> None:
    added, revoked = kind_spec("key.added"), kind_spec("key.revoked")
    assert (added.body, revoked.body) == (KeyAdded, KeyRevoked)
    assert added.roles == revoked.roles == frozenset({Role.ADMIN})


def test_roles() -> None:
    assert [str(r) for r in Role] == [
        "admin", "curator", "submitter", "verifier", "consent-officer", "dac"]


def test_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(InputError, match=r"unknown entry kind 'image\.teleported'"):
        kind_spec("image.teleported")
    with pytest.raises(InputError, match=r"image\.teleported"):
        validate_body("image.teleported", {})


def test_a_registry_with_a_new_kind() -> None:
    assert NOTE.roles == frozenset({Role.SUBMITTER, Role.ADMIN})  # admin may always sign
    kinds = DEFAULT_KINDS.with_kinds(NOTE)
    assert kind_spec("test.note", kinds) is NOTE
    assert NOTE in list(kinds)
    names = [k.name for k in kinds]
    assert names == sorted(names)
    assert set(names) == {k.name for k in DEFAULT_KINDS} | {"test.note"}
    assert validate_body("test.note", {"text": "hi"}, kinds) == Note(text="hi")
    with pytest.raises(InputError, match=r"malformed test\.note body: text"):
        validate_body("test.note", {"text": 1}, kinds)


def test_the_default_registry_is_left_alone() -> None:
    DEFAULT_KINDS.with_kinds(NOTE)
    assert "test.note" not in DEFAULT_KINDS
    with pytest.raises(InputError):
        kind_spec("test.note")
    with pytest.raises(TypeError):
        DEFAULT_KINDS._specs["test.note"] = NOTE  # type: ignore[index]


def test_a_kind_declared_twice_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match=r"entry kind test\.note is declared twice"):
        KindRegistry.of([NOTE], [kind("test.note", Note, roles=(), description="another")])
    with pytest.raises(ValueError, match=r"entry kind key\.added is declared twice"):
        DEFAULT_KINDS.with_kinds(kind("key.added", Note, roles=(), description="a clash"))


def test_a_registry_travels_to_worker_processes_by_its_specs() -> None:
    kinds = pickle.loads(pickle.dumps(DEFAULT_KINDS.with_kinds(NOTE)))  # noqa: S301 - own data
    assert kinds == DEFAULT_KINDS.with_kinds(NOTE) and kinds != DEFAULT_KINDS
    assert kinds.spec("test.note").body is Note


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
        validate_body(kind, body)
    assert caught.value.diagnostics().startswith(f"malformed {kind} body: {where}")


def test_good_key_bodies() -> None:
    added = validate_body("key.added", {"name": "site-a.1", "role": "curator",
                                              "public_key": "A" * 43 + "=", "key_id": "0" * 64})
    assert added.role == Role.CURATOR  # type: ignore[attr-defined]
    revoked = validate_body("key.revoked", {"key_id": "0" * 64})
    assert revoked.reason == ""  # type: ignore[attr-defined]
