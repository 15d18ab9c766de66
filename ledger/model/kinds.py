"""The registry of entry kinds: each kind names its body model and who may sign it.

Kinds are open-ended: a later module registers its own (``image.registered``,
``consent.changed``, ...) with ``register_kind`` and the log, the audit and the
schemas pick it up. A kind nobody registered is refused, never guessed at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ledger.errors import InputError
from ledger.model.roles import Role


@dataclass(frozen=True)
class KindSpec:
    name: str
    body: type[BaseModel]
    roles: frozenset[Role]
    description: str


_KINDS: dict[str, KindSpec] = {}


def register_kind(
    name: str, body: type[BaseModel], *, roles: Iterable[Role], description: str
) -> KindSpec:
    """Declare an entry kind. Admin may always sign it; ``roles`` adds others."""
    spec = KindSpec(name, body, frozenset(roles) | {Role.ADMIN}, description)
    existing = _KINDS.get(name)
    if existing is not None and existing != spec:
        raise ValueError(f"entry kind {name} is already registered differently")
    _KINDS[name] = spec
    return spec


def kind_spec(name: str) -> KindSpec:
    try:
        return _KINDS[name]
    except KeyError:
        raise InputError(f"unknown entry kind {name!r}") from None


def all_kinds() -> list[KindSpec]:
    return [_KINDS[name] for name in sorted(_KINDS)]


def validate_body(kind: str, body: dict[str, Any]) -> BaseModel:
    """Validate ``body`` against its kind's model; InputError names the field."""
    spec = kind_spec(kind)
    try:
        return spec.body.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InputError(f"malformed {kind} body: {where}: {first['msg']}") from exc
