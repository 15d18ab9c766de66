"""medledger dataset grant / revoke / grants: access to controlled dataset versions.

The options ``pin`` and ``export`` take for a registered or controlled version are here too
(``KeyOpt``, ``PurposeOpt``, ``AcceptTermsOpt``), so the two commands stay one call each.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, out
from ledger.service import datasetaccess as service

AccessKeyOpt = Annotated[str | None, typer.Option(
    "--key", help="registered/controlled versions: the requesting key (it signs the "
    "dataset.accessed entry).")]
PurposeOpt = Annotated[str | None, typer.Option(
    help="registered/controlled versions: the purpose of use (logged; controlled: the "
    "grant's purpose, by default).")]
AcceptTermsOpt = Annotated[bool, typer.Option(
    help="registered versions: accept the medledger registered-access terms (their SHA-256 "
    "is logged).")]


def access_line(access: service.Access) -> str | None:
    """What pin/export print about the access they logged (None: open, nothing logged)."""
    if access.index is None:
        return None
    via = f" under grant {access.grant}" if access.grant is not None else " (terms accepted)"
    return f"{access.label} is {access.tier}: dataset.accessed appended at entry " \
           f"{access.index}{via}"


def grant(
    scope: Annotated[str, typer.Argument(help="NAME@V, or NAME for every version.")],
    to: Annotated[str, typer.Option(help="The key granted access: key id or key name.")],
    purpose: Annotated[str, typer.Option(help="The purpose granted (accesses must state it).")],
    until: Annotated[str, typer.Option(
        help="Last day of validity (YYYY-MM-DD, through 23:59:59 UTC) or a UTC time.")],
    key: Annotated[str, typer.Option(help="The dac (data-access committee) key that signs.")],
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Grant a key access to a controlled dataset (a signed dataset.access_granted entry).

    Example: medledger dataset grant chest@2 --to 3f2a... --purpose "pneumonia model"
    --until 2027-06-30 --key dac
    """
    made = service.grant(open_ledger(ledger), scope, to=to, purpose=purpose, until=until,
                         key=key)
    if as_json:
        emit_json(made.to_json())
        return
    out.print(f"grant {made.index}: key {made.grantee[:16]} may use {made.scope} for "
              f"{made.purpose!r} until {made.not_after}", markup=False)


def revoke(
    grant_index: Annotated[int, typer.Argument(min=0, help="Entry index of the grant.")],
    key: Annotated[str, typer.Option(help="The dac key that signs.")],
    reason: Annotated[str, typer.Option(help="Why (logged).")] = "",
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a grant (a signed dataset.access_revoked entry); later accesses cannot use it.

    Example: medledger dataset revoke 42 --key dac --reason "project ended"
    """
    ended = service.revoke(open_ledger(ledger), grant_index, key=key, reason=reason)
    if as_json:
        emit_json(ended.to_json())
        return
    out.print(f"grant {ended.index} ({ended.scope}, key {ended.grantee[:16]}) revoked at "
              f"entry {ended.revoked}", markup=False)


def grants(
    name: Annotated[str, typer.Argument(help="The dataset name.")],
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Every grant for a dataset, each proven from its entries, with its status now.

    Example: medledger dataset grants chest
    """
    found = service.grants(open_ledger(ledger), name)
    if as_json:
        emit_json({"name": name, "grants": [g.to_json() for g in found]})
        return
    if not found:
        out.print(f"{name}: no grants", markup=False)
        return
    table = Table("grant", "dataset", "grantee", "purpose", "not after", "status")
    for g in found:
        status = g.status if g.revoked is None else f"revoked at {g.revoked}"
        table.add_row(str(g.index), g.scope, g.grantee[:16], g.purpose, g.not_after, status)
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add the access commands to the ``dataset`` group."""
    app.command("grant")(grant)
    app.command("revoke")(revoke)
    app.command("grants")(grants)
