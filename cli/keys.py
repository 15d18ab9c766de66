"""medledger keys: add, list, revoke, export."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, out
from ledger.service import KeyInfo

app = typer.Typer(help="Signing keys and their roles.", no_args_is_help=True)


def _show(info: KeyInfo, as_json: bool) -> None:
    if as_json:
        emit_json(info.to_json())
    else:
        state = "active" if info.revoked_index is None else f"revoked at {info.revoked_index}"
        out.print(f"{info.name} ({info.role}, {state}) key id {info.key_id}", markup=False)


@app.command("add")
def add(
    name: str,
    role: Annotated[str, typer.Option(
        help="admin, curator, submitter, verifier, consent-officer or dac")],
    by: Annotated[str, typer.Option(help="Admin key that signs the addition.")] = "admin",
    public_key: Annotated[
        str | None, typer.Option(help="Add someone else's base64 Ed25519 public key.")
    ] = None,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Add a key with a role (a new key pair is made here unless --public-key is given)."""
    _show(open_ledger(ledger).add_key(name, role, by=by, public_key=public_key), as_json)


@app.command("list")
def list_keys(ledger: LedgerOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """List every key the log has added, with its state."""
    keys = open_ledger(ledger).list_keys()
    if as_json:
        emit_json([k.to_json() for k in keys])
        return
    table = Table("name", "role", "state", "key id")
    for k in keys:
        state = "active" if k.revoked_index is None else f"revoked at {k.revoked_index}"
        table.add_row(k.name, k.role, state, k.key_id[:16])
    out.print(table)


@app.command("revoke")
def revoke(
    name: str,
    by: Annotated[str, typer.Option(help="Admin key that signs the revocation.")] = "admin",
    reason: Annotated[str, typer.Option(help="Why (recorded in the log).")] = "",
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key: it may sign nothing after this entry."""
    _show(open_ledger(ledger).revoke_key(name, by=by, reason=reason), as_json)


@app.command("export")
def export(name: str, ledger: LedgerOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """Print a key's public half (never the private key)."""
    info = open_ledger(ledger).key_info(name, include_revoked=True)
    if as_json:
        emit_json(info.to_json())
    else:
        out.print(info.public_key, markup=False)
