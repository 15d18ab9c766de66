"""The preprocessing vocabulary as users write it: ``NAME:k=v,...`` and steps files.

The term models (typed parameters, DICOM code, C2PA action) are in
:mod:`ledger.model.vocabulary`, beside the image.derived body that validates with them;
this module turns command-line text and JSON files into validated steps, and lists the
vocabulary for docs/vocabulary.md.

On the command line a list value is written with ``x`` (``spacing=0.5x0.5``), a
parameter of a dict with a dot (``parameters.mean=0``); ``resize:size=256x256`` is
``resize:width=256,height=256``.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ledger.errors import InputError, show_path
from ledger.model.vocabulary import (
    DEID_OPTIONS,
    STEP,
    TERM_NAMES,
    TERMS,
    Term,
)

__all__ = ["DEID_OPTIONS", "TERMS", "TERM_NAMES", "Term", "parse_step", "read_steps_file",
           "step_json", "validate_step", "vocabulary_rows"]

MAX_STEPS_FILE = 1 << 20


def _is_list(model: type[Term], name: str) -> bool:
    field = model.model_fields.get(name)
    return field is not None and "list[" in str(field.annotation)


def parse_step(text: str) -> Term:
    """A step from ``NAME:k=v,...``; InputError names the term or parameter refused."""
    name, _, rest = text.partition(":")
    name = name.strip()
    model = TERM_NAMES.get(name)
    if model is None:
        raise InputError(f"step {text!r}: unknown term {name!r} (known: "
                         f"{', '.join(sorted(TERM_NAMES))})")
    data: dict[str, Any] = {"term": name}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise InputError(f"step {text!r}: {part!r} is not key=value")
        if name == "resize" and key == "size":
            width, _, height = value.partition("x")
            data["width"], data["height"] = width, height
        elif "." in key:
            outer, _, inner = key.partition(".")
            data.setdefault(outer, {})[inner] = value
        elif _is_list(model, key):
            data[key] = value.split("x")
        elif key in data:
            raise InputError(f"step {text!r}: parameter {key!r} is given twice")
        else:
            data[key] = value
    return validate_step(data, where=f"step {text!r}", lax=True)


def validate_step(data: Any, *, where: str, lax: bool = False) -> Term:
    """A step from its JSON form (``lax``: numbers and booleans may come as text)."""
    try:
        return typing.cast(Term, STEP.validate_python(data, strict=not lax))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        if first["type"] == "union_tag_invalid":
            term = data.get("term") if isinstance(data, dict) else None
            raise InputError(f"{where}: unknown term {term!r}") from None
        if first["type"] == "extra_forbidden":
            raise InputError(f"{where}: unknown parameter {loc[-1]!r} of {loc[0]}") from None
        field = ".".join(loc[1:]) or loc[0] if loc else "step"
        raise InputError(f"{where}: {field}: {first['msg']}") from None


def step_json(step: Term) -> dict[str, Any]:
    """The step as the entry holds it: absent parameters omitted, never null."""
    return step.model_dump(mode="json", by_alias=True, exclude_none=True)


def read_steps_file(path: Path) -> list[Term]:
    """A JSON list of steps (``{"term": ..., parameters}``), in the order applied."""
    where = show_path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: {exc.strerror or exc}") from None
    if len(raw) > MAX_STEPS_FILE:
        raise InputError(f"{where}: steps file larger than {MAX_STEPS_FILE} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: not JSON ({exc})") from None
    if not isinstance(data, list):
        raise InputError(f"{where}: a steps file is a JSON list of steps")
    return [validate_step(item, where=f"{where}: step {n + 1}") for n, item in enumerate(data)]


def vocabulary_rows() -> list[dict[str, Any]]:
    """Term, parameters, DICOM code and C2PA action of every term (docs/vocabulary.md)."""
    rows = []
    for model in TERMS:
        name = str(typing.get_args(model.model_fields["term"].annotation)[0])
        params = [f.alias or n for n, f in model.model_fields.items() if n != "term"]
        rows.append({"term": name, "parameters": params, "dicom": model.dicom,
                     "c2pa": model.c2pa, "summary": model.summary})
    return rows
