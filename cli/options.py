"""Options shared by every command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.errors import InputError
from ledger.service import Ledger, env_passphrase

DEFAULT_DIR = Path(".medledger")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
LedgerOpt = Annotated[
    Path,
    typer.Option("--ledger", envvar="MEDLEDGER_DIR", help="Ledger directory.", show_default=True),
]


def open_ledger(directory: Path) -> Ledger:
    return Ledger.open(directory, passphrase=env_passphrase())


def refuse_with(ctx: typer.Context, name: str, reason: str) -> None:
    """Refuse an option typed on the command line that this use cannot honour (exit 2)."""
    source = ctx.get_parameter_source(name)  # click's enum, vendored inside typer
    if source is not None and source.name == "COMMANDLINE":
        raise InputError(reason)
