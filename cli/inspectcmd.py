"""medledger inspect: screen images for signs of generation or alteration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import JsonOpt
from cli.output import emit_json, out
from ledger.errors import printable
from ledger.service.forensics import DecodeLimits, inspect, write_page


def inspect_command(
    images: Annotated[list[Path], typer.Argument(help="Image files (DICOM, PNG, JPEG, ...).")],
    html: Annotated[
        Path | None, typer.Option("--html", metavar="FILE", help="Also write an HTML page.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Screen images for generated or filter-altered content: signals, evidence, a level.

    A screening, never a verdict: "suspected" or "no signal found" (which never shows that
    an image is unaltered). Example: medledger inspect scan.dcm photo.png --json
    """
    results = inspect(images, limits=DecodeLimits())
    if html is not None:
        write_page(results, html)
    if as_json:
        emit_json([r.to_json() for r in results])
        return
    for r in results:
        out.print(printable(f"{r.path}: {r.verdict}"), markup=False)
        for s in r.screening.signals:
            out.print(printable(f"  {s.level.label:<6} {s.score:.2f} {s.name}: {s.evidence}"),
                      markup=False)
