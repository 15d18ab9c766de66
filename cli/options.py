"""Options shared by every command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.service import Ledger, env_passphrase

DEFAULT_DIR = Path(".medledger")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
LedgerOpt = Annotated[
    Path,
    typer.Option("--ledger", envvar="MEDLEDGER_DIR", help="Ledger directory.", show_default=True),
]


def open_ledger(directory: Path) -> Ledger:
    return Ledger.open(directory, passphrase=env_passphrase())
