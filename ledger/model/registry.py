"""The default entry kinds and projections: the one place that lists the modules declaring them.

Each module below declares ``KINDS`` (a tuple of ``KindSpec``) and ``PROJECTIONS`` (entry
kind -> projection) and registers nothing itself. A new kind's module is added to
``MODULES``; ``tests/unit/model/test_registry.py`` fails if a module under ``ledger/``
declares either name and is missing here. Code that needs kinds uses ``DEFAULT_KINDS``
unless it is handed another registry (a test's or a benchmark's extra kinds).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType, ModuleType
from typing import Any

from pydantic import BaseModel

from ledger.model import access, consent, datasets, derivations, images, keys, policy, sources
from ledger.model.kinds import KindRegistry, KindSpec
from ledger.model.projection import Projection, Projections

MODULES: tuple[ModuleType, ...] = (keys, images, sources, policy, consent, derivations, datasets,
                                   access)


def projections_of(*groups: Mapping[str, Projection]) -> Projections:
    """One read-only mapping of every group's projections; a kind projected twice is a
    programming error."""
    merged: dict[str, Projection] = {}
    for group in groups:
        for name, projection in group.items():
            if name in merged:
                raise ValueError(f"entry kind {name} has two projections")
            merged[name] = projection
    return MappingProxyType(merged)


DEFAULT_KINDS: KindRegistry = KindRegistry.of(*(module.KINDS for module in MODULES))
DEFAULT_PROJECTIONS: Projections = projections_of(*(module.PROJECTIONS for module in MODULES))


def kind_spec(name: str, kinds: KindRegistry = DEFAULT_KINDS) -> KindSpec:
    """The kind ``name``; InputError if ``kinds`` does not hold it."""
    return kinds.spec(name)


def validate_body(
    kind: str, body: dict[str, Any], kinds: KindRegistry = DEFAULT_KINDS
) -> BaseModel:
    """Validate ``body`` against its kind's model; InputError names the field."""
    return kinds.validate_body(kind, body)
