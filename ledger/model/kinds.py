"""Entry kinds: each kind names its body model and who may sign it.

A module declares its kinds as a tuple, ``KINDS = (kind("x.y", Body, ...), ...)``, with
no side effect; ``ledger.model.registry`` builds the one default ``KindRegistry`` from
the modules it lists. A kind the registry does not hold is refused, never guessed at.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
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


def kind(name: str, body: type[BaseModel], *, roles: Iterable[Role], description: str) -> KindSpec:
    """Declare an entry kind. Admin may always sign it; ``roles`` adds others."""
    return KindSpec(name, body, frozenset(roles) | {Role.ADMIN}, description)


class KindRegistry:
    """An immutable set of entry kinds, looked up by name."""

    __slots__ = ("_specs",)

    def __init__(self, specs: Mapping[str, KindSpec]) -> None:
        self._specs: Mapping[str, KindSpec] = MappingProxyType(dict(specs))

    @classmethod
    def of(cls, *groups: Iterable[KindSpec]) -> KindRegistry:
        """The kinds of every group (a module's ``KINDS``); a name declared twice is a
        programming error."""
        specs: dict[str, KindSpec] = {}
        for group in groups:
            for spec in group:
                if spec.name in specs:
                    raise ValueError(f"entry kind {spec.name} is declared twice")
                specs[spec.name] = spec
        return cls(specs)

    def with_kinds(self, *specs: KindSpec) -> KindRegistry:
        """A new registry: these kinds and this one's (e.g. a test's or a benchmark's)."""
        return KindRegistry.of(self, specs)

    def spec(self, name: str) -> KindSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise InputError(f"unknown entry kind {name!r}") from None

    def __iter__(self) -> Iterator[KindSpec]:
        """The kinds, sorted by name."""
        return iter([self._specs[name] for name in sorted(self._specs)])

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KindRegistry) and dict(self._specs) == dict(other._specs)

    def __hash__(self) -> int:
        return hash(frozenset(self._specs.items()))

    def __reduce__(self) -> tuple[Any, ...]:  # for worker processes: by its specs
        return (KindRegistry, (dict(self._specs),))

    def validate_body(self, kind: str, body: dict[str, Any]) -> BaseModel:
        """Validate ``body`` against its kind's model; InputError names the field."""
        spec = self.spec(kind)
        try:
            return spec.body.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise InputError(f"malformed {kind} body: {where}: {first['msg']}") from exc
