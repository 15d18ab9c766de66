"""The representativeness profile of a dataset version, from its members' signed leaves.

Counts by source, modality, manufacturer, model, body part, sex and age band, with the share
of members that do not say. Sex and age band come from the entry's metadata (entries made
before demographics commitments) or from a ``subject_demographics`` row whose values open the
entry's ``Demographics`` commitment (the caller opens them). A count under ``SMALL_CELL`` (5)
is shown as "<5", its share withheld: a small cell can point at a person. The counting is in
``profiletally``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SMALL_CELL = 5
# attribute shown -> where a registration says it (DICOM keyword, then the photo's EXIF)
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "source": (),
    "modality": ("Modality",),
    "manufacturer": ("Manufacturer", "Make"),
    "model": ("ManufacturerModelName", "Model"),
    "body_part": ("BodyPartExamined",),
    "sex": ("PatientSex",),
    "age_band": ("PatientAgeBand",),
}
DEMOGRAPHIC = {"sex": "PatientSex", "age_band": "PatientAgeBand"}
# commitment -> the values a subject_demographics row opened it with
Opened = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class Cell:
    value: str
    count: int

    def shown(self, total: int) -> dict[str, Any]:
        if self.count < SMALL_CELL:
            return {"value": self.value, "count": f"<{SMALL_CELL}", "share": None}
        return {"value": self.value, "count": self.count, "share": round(self.count / total, 4)}


@dataclass(frozen=True)
class Attribute:
    name: str
    cells: list[Cell]  # by count, largest first, then by value
    missing: int

    def to_json(self, total: int) -> dict[str, Any]:
        return {"name": self.name, "values": [c.shown(total) for c in self.cells],
                "missing_share": round(self.missing / total, 4) if total else 0.0}

    def counts(self) -> dict[str, int]:
        return {c.value: c.count for c in self.cells}


@dataclass(frozen=True)
class Profile:
    label: str
    members: int
    attributes: list[Attribute]

    def to_json(self) -> dict[str, Any]:
        return {"dataset": self.label, "members": self.members,
                "small_cell": SMALL_CELL,
                "attributes": [a.to_json(self.members) for a in self.attributes]}


    def attribute(self, name: str) -> Attribute:
        return next(a for a in self.attributes if a.name == name)
