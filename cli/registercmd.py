"""medledger register and show."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, err, out
from ledger.errors import InputError, printable
from ledger.service.registration import (
    DEFAULT_MAX_PIXELS,
    DecodeLimits,
    RegisterOptions,
    count_files,
    register,
    show,
)


def register_command(
    paths: Annotated[
        list[Path],  # readable=False: the walk names an unreadable file itself, as it refuses it
        typer.Argument(help="Files and folders (recursed).", readable=False),
    ],
    source: Annotated[
        str, typer.Option(help="Registering repository or site (see `medledger source`).")
    ],
    license: Annotated[str, typer.Option("--license", help="SPDX licence, e.g. CC-BY-4.0.")],
    consent: Annotated[str, typer.Option(help="consented, waived, not-required or unknown.")],
    key: Annotated[str, typer.Option(help="Name of the key that signs the entries.")],
    dataset: Annotated[
        str | None,
        typer.Option(help="Dataset label NAME or NAME@VERSION (owned by its first key)."),
    ] = None,
    workers: Annotated[int, typer.Option(min=0, help="Decoding processes (0: all cores).")] = 0,
    require_deidentified: Annotated[
        bool, typer.Option(help="Refuse identifiable images (also a ledger policy at init).")
    ] = False,
    keep_demographics: Annotated[
        bool, typer.Option(help="Record sex and an age band, from de-identified input only.")
    ] = False,
    max_pixels: Annotated[
        int, typer.Option(min=1, help="Refuse images with more pixels (decompression bombs).")
    ] = DEFAULT_MAX_PIXELS,
    reject_duplicates: Annotated[
        bool, typer.Option(help="Refuse exact and near duplicates of registered images.")
    ] = False,
    defer_duplicate_check: Annotated[
        bool,
        typer.Option(help="Bulk ingest: check for duplicates later (`medledger scan`)."),
    ] = False,
    worker_memory_mb: Annotated[
        int | None,
        typer.Option(
            min=0,
            envvar="MEDLEDGER_WORKER_MEMORY_MB",
            help="Each worker's memory ceiling in MiB above its start-up size (0: none; "
            "default 4 x the decoded-size limit + 1024).",
        ),
    ] = None,
    zero_preamble: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="DICOM whose preamble is refused (CVE-2019-11687): register a copy with "
            "the preamble zeroed, written to DIR, instead.",
        ),
    ] = None,
    quarantine: Annotated[
        str | None,
        typer.Option(metavar="LEVEL", help="Refuse images the screening rates at or above "
                     "LEVEL (low, medium, high): exit 2 for them, the rest registered."),
    ] = None,
    screen: Annotated[
        bool, typer.Option(help="Screen for generated or altered images (docs/forensics.md).")
    ] = True,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Register images: one signed image.registered entry each; rerun to resume."""
    opened = open_ledger(ledger)
    options = RegisterOptions(
        source=source,
        license=license,
        consent=consent,
        key=key,
        dataset=dataset,
        workers=workers,
        require_deidentified=require_deidentified,
        keep_demographics=keep_demographics,
        limits=DecodeLimits(max_pixels=max_pixels),
        reject_duplicates=reject_duplicates,
        defer_duplicate_check=defer_duplicate_check,
        worker_memory=None if worker_memory_mb is None else worker_memory_mb * 1024 * 1024,
        zero_preamble=zero_preamble,
        screen=screen,
        quarantine=quarantine,
    )
    columns = (TextColumn("registering"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("register", total=count_files(paths))
        summary = register(opened, paths, options, progress=lambda _p, _o: bar.advance(task))
    nothing = bool(summary.refused) and not summary.registered and not summary.already_known
    if as_json:
        emit_json(summary.to_json())
    elif nothing and len(summary.refused) == 1:
        pass  # the single refusal is the one error line below
    else:
        out.print(
            f"registered {summary.registered}, already known {summary.already_known}, "
            f"refused {len(summary.refused)}" + (" (interrupted)" if summary.interrupted else ""),
            markup=False,
        )
        for refusal in summary.refused:
            line = f"refused: {refusal['path']}: {refusal['reason']}"
            err.print(printable(line), markup=False)  # a name may hold a newline
        for dup in summary.duplicates:
            for match in dup["matches"]:
                where = (
                    f"entry {match['index']} ({match['source']})"
                    if "index" in match
                    else f"{match['path']} (earlier in this run)"
                )
                out.print(
                    printable(
                        f"duplicate: {dup['path']} (entry {dup['index']}): {match['kind']} "
                        f"duplicate of {where}: {match['detail']}"
                    ),
                    markup=False,
                )
    if summary.interrupted:
        raise typer.Exit(130)
    if nothing:
        if len(summary.refused) == 1:
            only = summary.refused[0]
            raise InputError(only["reason"], subject=only["path"])
        raise InputError(f"nothing registered: all {len(summary.refused)} files were refused")
    if summary.quarantined:
        raise typer.Exit(2)  # each quarantined file was named on its own line above


def show_command(
    image: Annotated[str, typer.Argument(help="An image file, or its file or pixel SHA-256.")],
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """An image's registrations: origin, signer, signature and inclusion proof (exit 1: none)."""
    result = show(open_ledger(ledger), image)
    if as_json:
        emit_json(result.to_json())
    for reg in result.registrations:
        if as_json:
            break
        if "source" not in reg:  # the projection points at an entry that registers nothing
            out.print(f"entry {reg['index']}: a {reg['kind']} entry, not a registration "
                      "(the images projection is wrong)", markup=False)
            continue
        signer = reg["signer"] or {"name": "?", "role": "?"}
        out.print(
            f"entry {reg['index']} ({reg['match']} match): {reg['source']}"
            + (f" / {reg['dataset']}" if reg["dataset"] else "")
            + f", {reg['license']}, consent {reg['consent']}, {reg['registered']}\n"
            f"  signed by {signer['name']} ({signer['role']}): signature {reg['signature']}, "
            f"inclusion in tree {result.checkpoint['size']}: {reg['inclusion']}\n"
            f"  pixels {reg['image']['pixel_sha256']} ({reg['image']['format']}, "
            f"{reg['image']['pixel_form']})" + _frames_line(reg["image"])
            + _screening_line(reg["image"]),
            markup=False,
        )
        if reg.get("subject_erased_at") is not None:
            out.print(f"  subject erased at index {reg['subject_erased_at']}", markup=False)
        if reg["projection_differs"]:
            out.print(f"  the images table differs from this signed entry in "
                      f"{', '.join(reg['projection_differs'])}: shown as signed", markup=False)
    result.require_verified()


def _screening_line(image: dict[str, Any]) -> str:
    """The screening recorded in the signed entry, if it ran (docs/forensics.md)."""
    screening = image.get("screening")
    if screening is None:
        return ""
    level = screening["level"]
    verdict = "no signal found" if level == "none" else f"suspected ({level})"
    found = [f"{s['name']} {s['level']} {s['score']}" for s in screening["signals"]]
    deferred = screening.get("deferred")
    return (f"\n  screening v{screening['v']} at registration: {verdict}"
            + (f": {'; '.join(found)}" if found else "")
            + (f" (not run: {', '.join(deferred)}; see inspect)" if deferred else ""))


def _frames_line(image: dict[str, Any]) -> str:
    """The frame tree of a multi-frame image, or how many frame digests an older entry lists."""
    listed = len(image.get("frame_sha256") or ())
    tree = image.get("frame_tree")
    if tree is None:
        return f"\n  {listed} frame digests listed (no frame root)" if listed else ""
    what = f"{listed} frame digests listed" if listed else "frame digests not listed"
    return f"\n  {tree['count']} frames, frame root {tree['root']} ({tree['alg']}; {what})"
