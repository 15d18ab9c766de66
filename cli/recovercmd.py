"""medledger recover: continue a genuinely restored database, on the record."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, out


def recover_command(
    key: Annotated[str, typer.Option(help="Admin key that signs the log.recovered entry.")],
    reason: Annotated[str, typer.Option(help="Why the database was restored (in the log).")],
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """After restoring an older database: record the loss in the log, then sign again.

    Example: medledger recover --key admin --reason "disk lost; restored last night's backup"
    """
    described = open_ledger(ledger).recover(key=key, reason=reason)
    if as_json:
        emit_json({"recovered": described})
    else:
        out.print(described, markup=False)
