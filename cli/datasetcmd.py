"""medledger overlap and medledger composition: what two datasets share, what one is made of."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from cli import setcmds
from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, out
from ledger.errors import InputError, printable
from ledger.service import Ledger
from ledger.service import similarity as service
from ledger.service.pages import composition_page
from ledger.service.registration import count_files
from ledger.service.similarity import ImageSet, resolve

SetArg = Annotated[
    str, typer.Argument(help="A registered dataset (NAME@V, or NAME: every version) or a folder.")
]
WorkersOpt = Annotated[int, typer.Option(min=0, help="Decoding processes (0: all cores).")]


def overlap(
    a: SetArg,
    b: SetArg,
    workers: WorkersOpt = 0,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Exact and near overlap of two datasets: counts, Jaccard, containment both ways."""
    opened = open_ledger(ledger)
    with setcmds.progress() as bar:
        first = _resolve(opened, a, workers, bar)
        second = _resolve(opened, b, workers, bar)
        if first.registered or second.registered:
            setcmds.check_registered(opened, bar, workers)
        result = service.overlap(opened, first, second)
    if as_json:
        emit_json(result.to_json())
        return
    for s in (first, second):
        setcmds.print_refused(s)
    out.print(
        f"A: {first.name} ({setcmds.plural(len(first.members), 'image')})\n"
        f"B: {second.name} ({setcmds.plural(len(second.members), 'image')})\n"
        f"exact: {result.exact} (images of A with identical pixels in B)\n"
        f"near: {result.near} (images of A with a duplicate, exact or near, in B)\n"
        f"containment A in B: {result.containment_a_in_b:.1%}, "
        f"B in A: {result.containment_b_in_a:.1%}\n"
        f"jaccard: {result.jaccard:.3f} ({result.shared_clusters} of "
        f"{setcmds.plural(result.clusters, 'duplicate cluster')} in both)",
        markup=False,
    )


def composition(
    target: SetArg,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report here.")
    ] = None,
    workers: WorkersOpt = 0,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Which registered sources and dataset versions a dataset is made of, and what is new."""
    setcmds.check_html(html)
    opened = open_ledger(ledger)
    with setcmds.progress() as bar:
        found = _resolve(opened, target, workers, bar)
        if not found.members:
            raise InputError("no images to analyse", subject=found.name)
        index = setcmds.check_registered(opened, bar, workers)
        if found.registered:
            result = service.composition(opened, found, index=index)
        else:
            task = bar.add_task("searching the ledger", total=len(found.members))

            def step(done: int, _total: int) -> None:
                bar.update(task, completed=done)

            result = service.composition(opened, found, index=index, progress=step)
            bar.remove_task(task)
    if html is not None:
        setcmds.write(html, composition_page(result))
    if as_json:
        emit_json(result.to_json())
        return
    setcmds.print_refused(found)
    out.print(f"{found.name}: {setcmds.plural(result.total, 'image')}", markup=False)
    width = max([len(s.name) for s in result.shares] + [6])
    for s in result.shares:
        out.print(
            f"  {s.kind:<8} {s.name:<{width}} {s.share:>7.1%}"
            f"  ({setcmds.plural(s.images, 'image')})",
            markup=False,
        )
        if s.kind == "source":  # a dataset's matches are its source's, listed once
            for m in s.matched:
                out.print(f"      {printable(m.image)} -> entry {m.entry} ({m.kind})", markup=False)
    out.print(
        f"  {'':<8} {'unseen':<{width}} {result.unseen_share:>7.1%}  "
        f"({setcmds.plural(result.unseen, 'image')} seen nowhere before)",
        markup=False,
    )
    if result.shares:
        out.print(
            "shares can add up to more than 100%: an image found in several sources and "
            "datasets counts for each",
            markup=False,
        )


def _resolve(ledger: Ledger, ref: str, workers: int, bar: Progress) -> ImageSet:
    path = Path(ref)
    if not path.exists():
        return resolve(ledger, [ref])  # a dataset name, or the error naming what is missing
    task = bar.add_task(f"analysing {ref}", total=count_files([path]))
    found = resolve(ledger, [ref], workers=workers, progress=lambda _p: bar.advance(task))
    bar.remove_task(task)
    return found
