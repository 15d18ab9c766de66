"""What has become of a dataset version since it was made: consent, lineage, newer versions,
screening. Pure: the service hands in facts read from checked leaves (docs/datasets.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.consent.replay import Ended

SUSPECT_LEVELS = frozenset(("medium", "high"))


@dataclass(frozen=True)
class Screening:
    screened: int  # members whose registration recorded a screening
    suspect: int  # ... at level medium or high

    @classmethod
    def of(cls, images: Sequence[Mapping[str, Any]]) -> Screening:
        """From the members' signed image facts (``image.screening.level``)."""
        levels = [(i.get("screening") or {}).get("level") for i in images]
        return cls(sum(lv is not None for lv in levels), sum(lv in SUSPECT_LEVELS for lv in levels))


@dataclass(frozen=True)
class DatasetStatus:
    label: str
    entry: int  # the version's entry index
    members: int
    ended: tuple[Ended, ...]  # members withdrawn or erased, whenever (the version's index splits)
    derivatives: tuple[int, ...]  # members derived from an image whose consent ended
    newer: tuple[tuple[str, int, int], ...]  # (label, entry index, members) of later versions
    screening: Screening

    def since(self) -> list[Ended]:
        """The members whose consent ended after the version was made."""
        return [e for e in self.ended if e.since > self.entry]

    def to_json(self) -> dict[str, Any]:
        since = self.since()
        share = round(self.screening.suspect / self.members, 4) if self.members else 0.0
        return {
            "dataset": self.label,
            "entry": self.entry,
            "members": self.members,
            "consent": {
                "withdrawn_since": sum(e.status == "withdrawn" for e in since),
                "erased_since": sum(e.status == "erased" for e in since),
                "since": [e.to_json() for e in since],
                "ended_before": [e.to_json() for e in self.ended if e.since <= self.entry],
            },
            "derivatives_of_withdrawn": list(self.derivatives),
            "newer_versions": [{"dataset": label, "entry": entry, "members": members}
                               for label, entry, members in self.newer],
            "screening": {"screened": self.screening.screened,
                          "medium_or_high": self.screening.suspect,
                          "not_screened": self.members - self.screening.screened,
                          "share_medium_or_high": share},
        }
