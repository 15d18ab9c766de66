"""medledger verify and bundle: full audits, with a database or with none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.logcmd import _vkey_text
from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, out
from ledger.audit.replay import AuditReport
from ledger.bundle import export_bundle, verify_bundle
from ledger.crypto.note import NoteVerifier
from ledger.errors import InputError, VerificationError

bundle_app = typer.Typer(help="Offline audit bundles.", no_args_is_help=True)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc


def _report_json(report: AuditReport) -> dict[str, Any]:
    return {
        "ok": True,
        "size": report.size,
        "root": report.root.hex(),
        "signatures": report.signatures,
        "checkpoints": report.checkpoints,
        "tree_nodes": report.tree_nodes,
        "keys": report.keys,
        "kinds": report.kinds,
        "recoveries": report.recoveries,
    }


def verify(
    bundle: Annotated[Path | None, typer.Option(help="Verify this bundle, no database.")] = None,
    pubkey: Annotated[
        list[str] | None, typer.Option(help="Log verifier key (with --bundle).")
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
    """Audit the log: chain, tree, signatures, key validity, checkpoints; exit 1 on a problem."""
    try:
        if bundle is not None:
            if not pubkey:
                raise InputError("--bundle needs --pubkey (the log's verifier key)")
            verifiers = [NoteVerifier.from_vkey(_vkey_text(v)) for v in pubkey]
            report = verify_bundle(_read(bundle), verifiers, source=str(bundle))
        else:
            note = _read(checkpoint).decode("utf-8", "replace") if checkpoint else None
            report = open_ledger(ledger).verify(
                tree_only=tree_only, checkpoint=note, workers=workers
            )
    except VerificationError as exc:
        if as_json:
            emit_json({"ok": False, "index": exc.index, "reason": exc.diagnostics()})
        raise
    if as_json:
        emit_json(_report_json(report))
    else:
        what = "tree" if tree_only else "log"
        out.print(
            f"ok: {what} of {report.size} entries verified (root {report.root.hex()[:16]}, "
            f"{report.signatures} signatures, {report.checkpoints} checkpoints)",
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
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Write the log (or [start, end)) with the proofs an offline auditor needs."""
    if file.exists():
        raise InputError(f"{file} already exists")
    bundle = export_bundle(open_ledger(ledger), start=start, end=end)
    file.write_text(json.dumps(bundle) + "\n")
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
            f"wrote {file}: entries [{bundle['start']}, {bundle['end']}); verify with\n"
            f"  medledger verify --bundle {file} --pubkey '{bundle['log_key']}'",
            markup=False,
        )
