"""The committed JSON Schemas are exactly what the models generate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.model.schemas import all_schemas, render

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_no_schema_file_is_missing_or_stale() -> None:
    expected = all_schemas()
    committed = {p.name for p in SCHEMAS.glob("*.schema.json")}
    assert committed == set(expected), "run: python -m ledger.model.schemas"


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_schema_matches_models(name: str) -> None:
    assert (SCHEMAS / name).read_text() == render(all_schemas()[name]), (
        f"schemas/{name} drifted from the models; run: python -m ledger.model.schemas"
    )


def test_entry_schema_requires_the_signed_fields() -> None:
    schema = json.loads((SCHEMAS / "entry.schema.json").read_text())
    assert set(schema["required"]) == {"v", "kind", "time", "actor", "body"}
    assert schema["additionalProperties"] is False
