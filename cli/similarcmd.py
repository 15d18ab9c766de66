"""medledger similar."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, err, out
from ledger.service import similarity
from ledger.service.registration import DEFAULT_MAX_PIXELS, DecodeLimits


def similar_command(
    image: Annotated[str, typer.Argument(help="An image file, or a registered file's SHA-256.")],
    top: Annotated[int, typer.Option(min=1, help="At most this many matches.")] = 10,
    max_pixels: Annotated[
        int, typer.Option(min=1, help="Refuse images with more pixels (decompression bombs).")
    ] = DEFAULT_MAX_PIXELS,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """The registered images closest to IMAGE: exact copies, then verified near-duplicates."""
    rows = similarity.similar(
        open_ledger(ledger), image, top=top, limits=DecodeLimits(max_pixels=max_pixels)
    )
    if as_json:
        emit_json(rows)
        return
    if not rows:
        out.print("no registered image is a duplicate of it", markup=False)
    for r in rows:
        out.print(
            f"entry {r['index']}" + (f", frame {r['frame']}" if "frame" in r else "")
            + f"  {r['kind']}  distance {r['distance']}  {r['source']}"
            + (f" / {r['dataset']}" if r["dataset"] else "")
            + f"  registered {r['registered']}  consent {r['consent']}\n"
            f"  {r['digest']}  {r['detail']}" + ("  (this very file)" if r["same_file"] else ""),
            markup=False,
        )


def thresholds_command(
    min_correlation: Annotated[
        float | None, typer.Option(help="Lowest correlation of a near-duplicate.")
    ] = None,
    max_worst_block: Annotated[
        float | None, typer.Option(help="Largest residual in any block (the decisive one).")
    ] = None,
    min_overlap: Annotated[
        float | None, typer.Option(help="Smallest overlap of the two content boxes.")
    ] = None,
    key: Annotated[
        str, typer.Option(help="Admin key that signs a change (a policy.changed entry).")
    ] = "admin",
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Show or change this repository's near-duplicate decision; a change rescans everything."""
    opened = open_ledger(ledger)
    changes = {
        name: value
        for name, value in (
            ("min_correlation", min_correlation),
            ("max_worst_block", max_worst_block),
            ("min_overlap", min_overlap),
        )
        if value is not None
    }
    if changes:
        columns = (TextColumn("rescanning"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("rescan", total=None)
            decision = similarity.change_thresholds(
                opened,
                changes,
                by=key,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
            )
    else:
        decision = similarity.thresholds(opened)
    if as_json:
        emit_json(decision.to_json())
        return
    for name, value in decision.values.items():
        out.print(f"{name} {value}", markup=False)
    if decision.rescanned is not None:
        out.print(f"rescanned {decision.rescanned} images with the new decision", markup=False)


def scan_command(
    workers: Annotated[
        int, typer.Option(min=0, help="Verifying processes (0: all cores; 1: this one).")
    ] = 0,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Check every image registered without a duplicate check, in log order; resumable."""
    opened = open_ledger(ledger)
    columns = (TextColumn("checking"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("scan", total=None)
        result = similarity.scan(
            opened,
            workers=workers,
            progress=lambda d, t: bar.update(task, completed=d, total=t),
        )
    if as_json:
        emit_json(result.to_json())
    else:
        out.print(f"checked {result.checked} images against the images registered before them")
