"""medledger verify and bundle: full audits, with a database or with none."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger, refuse_with
from cli.output import emit_json, err, out
from ledger.errors import VerificationError, show_path
from ledger.service.audits import export_bundle_file, verify_bundle_file, verify_ledger
from ledger.service.log import audit_json

bundle_app = typer.Typer(help="Offline audit bundles.", no_args_is_help=True)




def verify(
    ctx: typer.Context,
    bundle: Annotated[Path | None, typer.Option(help="Verify this bundle, no database.")] = None,
    pubkey: Annotated[
        list[str] | None,
        typer.Option(help="The log's verifier key, or a file holding it (needed with --bundle)."),
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="A checkpoint you saw earlier: the log must extend it.")
    ] = None,
    tree_only: Annotated[
        bool, typer.Option(help="Hashes, chain, tree, checkpoints; no signatures.")
    ] = False,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes for signatures.")] = None,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Audit the log: chain, tree, signatures, key validity, checkpoints; exit 1 on a problem.

    Example: medledger verify --bundle log.bundle --pubkey log.vkey --checkpoint seen.txt
    """
    try:
        if bundle is not None:
            refuse_with(ctx, "ledger", "--bundle verifies without a ledger; drop --ledger")
            report = verify_bundle_file(
                bundle, pubkeys=pubkey or [], checkpoint=checkpoint, tree_only=tree_only,
                workers=workers,
            )
        else:
            report = verify_ledger(
                open_ledger(ledger), pubkeys=pubkey or [], checkpoint=checkpoint,
                tree_only=tree_only, workers=workers,
            )
    except VerificationError as exc:
        if as_json:
            emit_json({"ok": False, "index": exc.index, "reason": exc.diagnostics()})
        raise
    for warning in report.warnings:  # not tamper (a purged grid): said, exit 0
        err.print(f"warning: {warning}", markup=False)
    if as_json:
        emit_json(audit_json(report))
    else:
        what = "tree" if tree_only else "log"
        tables = (f", {report.projection_rows} projection rows, {report.findings} findings"
                  if bundle is None and not tree_only else "")
        out.print(
            f"ok: {what} of {report.size} entries verified (root {report.root.hex()[:16]}, "
            f"{report.signatures} signatures, {report.checkpoints} checkpoints{tables})",
            markup=False,
        )
        for recovery in report.recoveries:
            out.print(recovery, markup=False)


@bundle_app.command("export")
def export(
    file: Path,
    start: Annotated[int, typer.Option(min=0)] = 0,
    end: Annotated[
        int | None, typer.Option(min=0, help="Exclusive (default: the whole log).")
    ] = None,
    grids: Annotated[bool, typer.Option(
        help="Include the images' near-duplicate grids (dataset verify: lossy_copy_of).")
    ] = False,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Write the log (or [start, end)) with the proofs an offline auditor needs."""
    bundle = export_bundle_file(open_ledger(ledger), file, start=start, end=end, grids=grids)
    summary = {
        "file": str(file),
        "start": bundle["start"],
        "end": bundle["end"],
        "checkpoint": bundle["checkpoint"],
        "log_key": bundle["log_key"],
    }
    if as_json:
        emit_json(summary)
    else:
        out.print(
            f"wrote {show_path(file)}: entries [{bundle['start']}, {bundle['end']}); verify with\n"
            f"  medledger verify --bundle {show_path(file)} --pubkey '{bundle['log_key']}'",
            markup=False,
        )
