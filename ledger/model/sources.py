"""Bodies of the source entries: which keys may register images under a source's name.

A source (a repository or site, the ``source`` of image.registered) is declared once by
``source.added`` with the keys allowed to register under it; ``source.changed`` replaces
that list. Only admin keys sign them. Names are the image.registered source names.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger.model.entry import HEX64
from ledger.model.kinds import kind
from ledger.model.origin import NAME_PATTERN
from ledger.model.projection import Change, Insert, Projection, Update

MAX_SOURCE_KEYS = 256


class SourceKeys(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str = Field(pattern=NAME_PATTERN, description="the source name of image.registered")
    keys: list[Annotated[str, Field(pattern=HEX64)]] = Field(
        min_length=1,
        max_length=MAX_SOURCE_KEYS,
        description="key ids allowed to register under the source, sorted, without repeats",
    )

    @field_validator("keys")
    @classmethod
    def _sorted_unique(cls, value: list[str]) -> list[str]:
        if value != sorted(set(value)):
            raise ValueError("keys must be sorted and without repeats")
        return value


class SourceAdded(SourceKeys):
    """A source is declared: from here on only these keys (and admin keys) register under it."""


class SourceChanged(SourceKeys):
    """A declared source's allowed keys are replaced by this list."""


KINDS = (
    kind("source.added", SourceAdded, roles=(),
         description="a source and the keys that may use it"),
    kind("source.changed", SourceChanged, roles=(),
         description="a source's allowed keys, replaced"),
)


def _source(index: int, entry: dict[str, Any]) -> list[Change]:
    body = entry["body"]
    keys = ",".join(body["keys"])  # sorted by the entry model
    if entry["kind"] == "source.added":
        return [Insert("sources", {
            "name": body["name"], "keys": keys, "added_idx": index, "changed_idx": None,
        })]
    return [Update("sources", {"name": body["name"]}, {"keys": keys, "changed_idx": index})]


PROJECTIONS: dict[str, Projection] = {"source.added": _source, "source.changed": _source}
