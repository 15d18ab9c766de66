"""medledger source: declare who may register images under a source's name."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, out
from ledger.service.sources import SourceInfo, add_source, change_source, list_sources

app = typer.Typer(
    help=(
        "Sources (sites, repositories) and the keys that may register images under them.\n\n"
        "Example: medledger source add 'Mass General' --key mgh-curator --key mgh-upload\n\n"
        "Once a source is added, `register --source NAME` is refused for any other key "
        "(admin keys excepted); names never added stay open to every registering key."
    ),
    no_args_is_help=True,
)
KeysOpt = Annotated[
    list[str], typer.Option("--key", help="A key that may register under the source (repeat).")
]
ByOpt = Annotated[str, typer.Option(help="Admin key that signs the entry.")]


def _show(info: SourceInfo, as_json: bool) -> None:
    if as_json:
        emit_json(info.to_json())
        return
    names = ", ".join(k["name"] for k in info.keys)
    out.print(f"{info.name}: {names} (entry {info.changed_index or info.added_index})",
              markup=False)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The source name, as in register --source.")],
    key: KeysOpt,
    by: ByOpt = "admin",
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Declare a source and the keys that may register under it (a signed source.added)."""
    _show(add_source(open_ledger(ledger), name, key, by=by), as_json)


@app.command("change")
def change(
    name: Annotated[str, typer.Argument(help="A source added before.")],
    key: KeysOpt,
    by: ByOpt = "admin",
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Replace a source's allowed keys (a signed source.changed)."""
    _show(change_source(open_ledger(ledger), name, key, by=by), as_json)


@app.command("list")
def list_command(ledger: LedgerOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """List the declared sources and their keys."""
    found = list_sources(open_ledger(ledger))
    if as_json:
        emit_json([s.to_json() for s in found])
        return
    table = Table("source", "keys", "added", "changed")
    for s in found:
        changed = "" if s.changed_index is None else str(s.changed_index)
        table.add_row(s.name, ", ".join(k["name"] for k in s.keys), str(s.added_index), changed)
    out.print(table)
