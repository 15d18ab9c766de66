"""Differences between a profile and a reference distribution, another version or a split.

Shares are compared among the members that record the attribute (a reference gives the shares
of known values; the share missing is shown beside, per side), in share points: 100 x (this
share - the other share). A difference involving a cell under ``SMALL_CELL`` is withheld
(``null``): with the other share known it would give the small count away. A value absent on
one side has share 0 there, which reveals nobody.

A reference file (docs/datasets.md, "Reference distributions") is JSON::

    {"name": "...", "attributes": {"sex": {"F": 0.51, "M": 0.49}, "age_band": {...}}}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.datasets.profile import ATTRIBUTES, SMALL_CELL, Attribute, Profile
from ledger.errors import InputError, show_path

_MAX_VALUES = 1_000  # per attribute in a reference file
_SUM_SLACK = 0.005  # shares rounded by hand may add up to a little over 1


@dataclass(frozen=True)
class Reference:
    """Expected shares of known values per attribute."""

    name: str
    shares: dict[str, dict[str, float]]


def read_reference(path: Path) -> Reference:
    """The reference distribution in ``path``; InputError names the file and the fault."""
    where = show_path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise InputError(f"{where}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: cannot read: not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
        raise InputError(f"{where}: a reference is an object with \"attributes\": "
                         "{attribute: {value: share}}")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InputError(f"{where}: \"name\" must be a non-empty text of at most 200 characters")
    shares: dict[str, dict[str, float]] = {}
    for attribute, values in data["attributes"].items():
        if attribute not in ATTRIBUTES:
            raise InputError(f"{where}: unknown attribute {attribute[:40]!r} (one of: "
                             + ", ".join(ATTRIBUTES) + ")")
        if not isinstance(values, dict) or not values or len(values) > _MAX_VALUES:
            raise InputError(f"{where}: {attribute}: give 1 to {_MAX_VALUES} value: share pairs")
        for value, share in values.items():
            if (isinstance(share, bool) or not isinstance(share, int | float)
                    or not math.isfinite(share) or not 0 <= share <= 1):
                raise InputError(f"{where}: {attribute}: the share of {value[:40]!r} must be a "
                                 "number from 0 to 1")
        if sum(values.values()) > 1 + _SUM_SLACK:
            raise InputError(f"{where}: {attribute}: the shares add up to more than 1")
        shares[attribute] = {str(k): float(v) for k, v in values.items()}
    if not shares:
        raise InputError(f"{where}: no attributes")
    return Reference(name.strip(), shares)


def _known_shares(attribute: Attribute, total: int) -> tuple[dict[str, float], set[str]]:
    """value -> share among members recording it, and the values under the small-cell bar."""
    known = total - attribute.missing
    counts = attribute.counts()
    shares = {v: n / known for v, n in counts.items()} if known else {}
    return shares, {v for v, n in counts.items() if n < SMALL_CELL}


def _points(mine: float | None, other: float | None) -> float | None:
    if mine is None or other is None:
        return None
    return round(100 * (mine - other), 2)


def _shown(share: float | None) -> float | None:
    return None if share is None else round(share, 4)


def _rows(mine: dict[str, float], small: set[str], other: dict[str, float],
          other_small: set[str]) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for value in sorted(mine.keys() | other.keys()):
        a = None if value in small else mine.get(value, 0.0)
        b = None if value in other_small else other.get(value, 0.0)
        rows.append((-abs(_points(a, b) or 0.0), value, {
            "value": value, "share": _shown(a), "other_share": _shown(b),
            "difference_points": _points(a, b)}))
    return [row for _, _, row in sorted(rows, key=lambda r: (r[0], r[1]))]


@dataclass(frozen=True)
class Comparison:
    dataset: str
    against: str
    kind: str  # "reference" or "dataset"
    attributes: list[dict[str, Any]]
    shared_members: int | None = None  # members in both (dataset comparisons)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dataset": self.dataset, "against": self.against,
                               "kind": self.kind, "small_cell": SMALL_CELL,
                               "attributes": self.attributes}
        if self.shared_members is not None:
            out["shared_members"] = self.shared_members
        return out


def against_reference(found: Profile, reference: Reference) -> Comparison:
    """The profile's shares of known values against the reference's, per attribute given."""
    attributes = []
    for name in (n for n in ATTRIBUTES if n in reference.shares):
        attribute = found.attribute(name)
        mine, small = _known_shares(attribute, found.members)
        attributes.append({
            "name": name,
            "missing_share": round(attribute.missing / found.members, 4) if found.members else 0.0,
            "values": _rows(mine, small, reference.shares[name], set()),
        })  # fmt: skip
    return Comparison(found.label, reference.name, "reference", attributes)


def against_dataset(found: Profile, other: Profile, *, shared_members: int) -> Comparison:
    """Two profiles (two versions, or a train and a test split), every attribute."""
    attributes = []
    for attribute in found.attributes:
        theirs = other.attribute(attribute.name)
        mine, small = _known_shares(attribute, found.members)
        their_shares, their_small = _known_shares(theirs, other.members)
        attributes.append({
            "name": attribute.name,
            "missing_share": round(attribute.missing / found.members, 4) if found.members else 0.0,
            "other_missing_share": (round(theirs.missing / other.members, 4) if other.members
                                    else 0.0),
            "values": _rows(mine, small, their_shares, their_small),
        })  # fmt: skip
    return Comparison(found.label, other.label, "dataset", attributes, shared_members)
