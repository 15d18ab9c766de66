"""What the dataset-level commands share: progress, the catch-up scan, HTML files, wording."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.output import err
from ledger.errors import InputError, printable
from ledger.service import Ledger, similarity
from ledger.service.similarity import ImageSet, LedgerIndex


@contextmanager
def progress() -> Iterator[Progress]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    # Only on a terminal: a pipe or a CI log gets the results and error lines alone.
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        yield bar


def check_registered(ledger: Ledger, bar: Progress, workers: int) -> LedgerIndex:
    """The catch-up scan every dataset-level command runs first (``workers``: 0 for all cores)."""
    task = bar.add_task("checking registered images", total=None)

    def step(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    index = similarity.catch_up(ledger, workers=workers, progress=step)
    bar.remove_task(task)
    return index


def check_html(path: Path | None) -> None:
    """Fail before any work when the report could not be written."""
    if path is None:
        return
    if path.is_dir():
        raise InputError("is a folder; --html takes a file name", subject=str(path))
    if not path.parent.is_dir():
        raise InputError("no such folder for the --html report", subject=str(path.parent))
    if not os.access(path.parent, os.W_OK):
        raise InputError("folder not writable for the --html report", subject=str(path.parent))


def write(path: Path, page: str) -> None:
    """Write the whole report or nothing (a temporary file renamed into place)."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise InputError(f"cannot write the report: {exc.strerror}", subject=str(path)) from exc


def print_refused(image_set: ImageSet) -> None:
    for refusal in image_set.refused:
        line = f"refused: {refusal['path']}: {refusal['reason']}"
        err.print(printable(line), markup=False)  # a name may hold a newline


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
