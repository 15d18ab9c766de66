"""JSON Schemas of the ledger's formats, generated from the models into schemas/.

    python -m ledger.model.schemas [DIR]     (re)write the schema files
A test regenerates them in memory and fails when the committed files drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ledger.model.bundle import BundleFile
from ledger.model.entry import Entry, Envelope, Leaf
from ledger.model.lock import LockFile
from ledger.model.registry import DEFAULT_KINDS
from ledger.model.vocabulary import STEP

SCHEMA_BASE = "https://medledger.local/schemas/"


def _schema(model: type[BaseModel], name: str, description: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE + name,
        "description": description,
        **schema,
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    out = {
        "entry.schema.json": _schema(Entry, "entry.schema.json", "A signed entry (RFC 8785)."),
        "envelope.schema.json": _schema(
            Envelope, "envelope.schema.json", "An entry and its Ed25519 signature."
        ),
        "leaf.schema.json": _schema(
            Leaf, "leaf.schema.json", "A log leaf: the previous leaf hash and an envelope."
        ),
        "bundle.schema.json": _schema(
            BundleFile, "bundle.schema.json", "An offline audit bundle (medledger bundle export)."
        ),
        "lock.schema.json": _schema(
            LockFile, "lock.schema.json", "A pinned dataset version (medledger dataset pin)."
        ),
    }
    out["preprocessing.schema.json"] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE + "preprocessing.schema.json",
        "description": "One preprocessing step of image.derived: a term of the vocabulary "
        "(docs/vocabulary.md) and its typed parameters; decimals are strings.",
        **STEP.json_schema(mode="validation"),
    }
    for spec in DEFAULT_KINDS:
        name = f"body.{spec.name}.schema.json"
        out[name] = _schema(
            spec.body,
            name,
            f"Body of {spec.name}: {spec.description}. "
            f"Signed by roles: {', '.join(sorted(spec.roles))}.",
        )
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in all_schemas().items():
        path = directory / name
        path.write_text(render(schema))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")):
        print(path)
