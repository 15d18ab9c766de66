"""medledger rebuild: every projection table recreated from the log alone."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, err, out


def rebuild_command(
    workers: Annotated[
        int, typer.Option(min=1, help="Processes that verify duplicate candidates.")
    ] = 1,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Recreate every projection table from the log (after a restore or damage), then
    rescan duplicates. All or nothing for the tables; `medledger scan` resumes a rescan.

    Example: medledger rebuild && medledger verify
    """
    opened = open_ledger(ledger)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        rebuilt = opened.rebuild(workers=workers, progress=progress)
    if as_json:
        emit_json(rebuilt.to_json())
        return
    rows = ", ".join(f"{count} {table}" for table, count in rebuilt.rows.items())
    out.print(f"rebuilt from {rebuilt.entries} entries: {rows}; rescanned "
              f"{rebuilt.rescanned} images for duplicates", markup=False)
