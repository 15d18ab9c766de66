"""Similarity use cases: similar, the catch-up scan, the duplicate decision, dups, leakage,
overlap and composition.

``overlap`` and ``composition`` import datasketch (and scipy) when called, not at startup.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from ledger.registration.pipeline import default_workers
from ledger.service.ledger import Ledger
from ledger.similarity.catalog import LedgerIndex
from ledger.similarity.groups import (
    Group,
    Groups,
    describe,
    duplicate_groups,
    dups_json,
    explain,
    leakage_json,
    leaks,
    registered_set,
    require_images,
)
from ledger.similarity.scan import scan as _scan
from ledger.similarity.sets import ImageSet, Link, dataset_set, prepare, resolve
from ledger.similarity.similar import similar

if TYPE_CHECKING:
    from ledger.similarity.composition import Composition, Overlap

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class Scanned:
    checked: int

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked}


@dataclass(frozen=True)
class Decision:
    """The repository's near-duplicate decision; ``rescanned`` after a change, else None."""

    values: dict[str, float]
    rescanned: int | None = None

    def to_json(self) -> dict[str, Any]:
        extra = {"rescanned": self.rescanned} if self.rescanned is not None else {}
        return dict(self.values) | extra


def catch_up(ledger: Ledger, *, workers: int = 0, progress: Progress | None = None) -> LedgerIndex:
    """The scan every dataset-level query runs first: each registered image checked against
    the images before it (``workers``: 0 for all cores). Returns the saved index."""
    return prepare(ledger, workers=workers or default_workers(), progress=progress)


def scan(ledger: Ledger, *, workers: int = 0, progress: Progress | None = None) -> Scanned:
    """Check every image registered without a duplicate check, in log order; resumable."""
    index = ledger.duplicate_index()
    checked = _scan(index, workers=workers or default_workers(), progress=progress)
    index.save()
    return Scanned(checked)


def thresholds(ledger: Ledger) -> Decision:
    return Decision(asdict(ledger.duplicate_thresholds()))


def change_thresholds(
    ledger: Ledger,
    changes: Mapping[str, float],
    *,
    by: str = "admin",
    progress: Progress | None = None,
) -> Decision:
    """Change the decision (a policy.changed entry signed by admin key ``by``; validated
    before anything is written), then rescan every image with it in this process."""
    current = replace(ledger.duplicate_thresholds(), **changes)
    ledger.set_duplicate_thresholds(current, by=by)
    index = ledger.duplicate_index()
    rescanned = _scan(index, progress=progress)
    index.save()
    return Decision(asdict(current), rescanned)


def overlap(ledger: Ledger, a: ImageSet, b: ImageSet) -> Overlap:
    from ledger.similarity.composition import overlap as _overlap

    return _overlap(ledger, a, b)


def composition(
    ledger: Ledger,
    target: ImageSet,
    *,
    index: LedgerIndex | None = None,
    progress: Progress | None = None,
) -> Composition:
    from ledger.similarity.composition import composition as _composition

    return _composition(ledger, target, index=index, progress=progress)


__all__ = [
    "Decision",
    "Group",
    "Groups",
    "ImageSet",
    "LedgerIndex",
    "Link",
    "Scanned",
    "catch_up",
    "change_thresholds",
    "composition",
    "dataset_set",
    "describe",
    "duplicate_groups",
    "dups_json",
    "explain",
    "leakage_json",
    "leaks",
    "overlap",
    "registered_set",
    "require_images",
    "resolve",
    "scan",
    "similar",
    "thresholds",
]
