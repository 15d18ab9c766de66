"""medledger stamp and medledger check: provenance written into, and read from, the file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.datasetstatus import ledger_if_present
from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, out
from ledger.service import stampcheck, stamps

FilesArg = Annotated[list[Path], typer.Argument(help="DICOM, PNG or JPEG files.")]


def stamp_command(
    files: FilesArg,
    key: Annotated[str | None, typer.Option(
        help="Use the registration this key signed (default: the earliest).")] = None,
    c2pa_cert: Annotated[Path | None, typer.Option(
        help="PEM chain (leaf first, then its CA): also sign a C2PA manifest (PNG, JPEG).")
    ] = None,
    c2pa_key: Annotated[Path | None, typer.Option(
        help="The unencrypted PEM private key of --c2pa-cert's leaf.")] = None,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Write a provenance stamp into registered image files, pixels untouched.

    The stamp holds the registration's leaf and its proof against a signed checkpoint: a
    DICOM private block and Contributing Equipment item, a PNG iTXt chunk, a JPEG XMP segment.

    With --c2pa-cert and --c2pa-key, a C2PA manifest is signed over the stamped PNG or JPEG:
    its assertions repeat the stamp (org.medledger.provenance); DICOM is refused.

    Example: medledger stamp scan.dcm photo.png --key curator
    """
    done = stamps.stamp(open_ledger(ledger), files, key=key, c2pa_cert=c2pa_cert,
                        c2pa_key=c2pa_key)
    if as_json:
        emit_json([s.to_json() for s in done])
        return
    for s in done:
        c2pa = f"; C2PA manifest signed by {s.c2pa_signer}" if s.c2pa_signer else ""
        out.print(f"{s.file}: stamped (registered in {s.origin} at index {s.index}){c2pa}",
                  markup=False)


def check_command(
    files: FilesArg,
    pubkey: Annotated[list[str] | None, typer.Option(
        help="The log's verifier key (name+hash+key or a file); repeatable.")] = None,
    bundle: Annotated[Path | None, typer.Option(
        help="A bundle of the log: an unstamped file's pixels are looked up in it.")] = None,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Verify the stamp inside each file with nothing else: proof, checkpoint, pixels.

    Exit 1 when a file has no stamp, a stamp from a log whose key was not given, a proof
    that fails, or pixels that are not the registered ones; also for a C2PA manifest that is
    invalid or disagrees with the stamp. For a file without a stamp, a bundle (or the
    ledger, when run inside one) says which entry registers its pixels or, given grids
    (bundle export --grids, or the ledger), which image it is a near-duplicate of; it still
    fails.

    Example: medledger check scan.dcm --pubkey log.vkey
    """
    result = stampcheck.check_files(files, pubkeys=pubkey, bundle=bundle,
                                    ledger=ledger_if_present(ledger))
    if as_json:
        emit_json(result.to_json())
    else:
        for c in result.checked:
            key = "" if c.key_given else " (checked with the stamp's own log key, none given)"
            out.print(f"{c.path}: registered in {c.origin} at index {c.index}, pixels match{key}",
                      markup=False)
            if c.c2pa:
                out.print(f"{c.path}: C2PA manifest {c.c2pa.state} (by {c.c2pa.generator}), "
                          f"medledger assertion {c.c2pa.medledger}", markup=False)
        for file, reason in result.failed:
            out.print(f"{file}: FAILED: {reason}", markup=False)
    result.require_all()
