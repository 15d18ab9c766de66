"""medledger dups and medledger leakage: duplicate groups in a set, pairs across a split."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from cli import setcmds
from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, out
from ledger.errors import InputError, VerificationError, printable
from ledger.service import Ledger
from ledger.service.pages import Pictures, dups_page, leakage_page
from ledger.service.registration import count_files
from ledger.service.similarity import (
    ImageSet,
    describe,
    duplicate_groups,
    dups_json,
    explain,
    leakage_json,
    leaks,
    registered_set,
    require_images,
    resolve,
)

HtmlOpt = Annotated[
    Path | None, typer.Option("--html", help="Also write a self-contained HTML report here.")
]
WorkersOpt = Annotated[
    int,
    typer.Option(min=0, help="Processes for decoding and for the catch-up check (0: all cores)."),
]


def dups(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Files and folders (recursed); not registered.")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="A registered dataset: NAME@V, or NAME for every version.")
    ] = None,
    html: HtmlOpt = None,
    workers: WorkersOpt = 0,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Groups of duplicates (exact and near) in a registered dataset or in files."""
    if (dataset is None) == (not paths):
        raise InputError("give either --dataset NAME@V or files and folders, not both")
    setcmds.check_html(html)
    opened = open_ledger(ledger)
    with setcmds.progress() as bar:
        if dataset is not None:
            image_set = registered_set(opened, dataset)
        else:
            image_set = _resolve(opened, paths or [], workers, bar)
        require_images(image_set)
        if image_set.registered:
            setcmds.check_registered(opened, bar, workers)
        bar.add_task("comparing", total=None)
        groups = duplicate_groups(opened, image_set)
        page = None
        if html is not None:
            page = dups_page(image_set, groups, generated=_now(), pictures=Pictures())
    if page is not None and html is not None:
        setcmds.write(html, page)
    if as_json:
        emit_json(dups_json(image_set, groups))
        return
    grouped = sum(len(g.members) for g in groups)
    out.print(
        f"{image_set.name}: {len(image_set.members)} images, "
        f"{setcmds.plural(len(groups), 'group')} "
        f"of duplicates ({setcmds.plural(grouped, 'image')} in groups)",
        markup=False,
    )
    m = image_set.members
    for n, group in enumerate(groups, 1):
        out.print(
            f"\ngroup {n}: {len(group.members)} images, every two verified "
            f"({setcmds.plural(len(group.links), 'verified pair')})",
            markup=False,
        )
        reached = group.reached_by()
        for i in group.members:
            line = "  " + printable(describe(m[i]))
            link = reached.get(i)
            if i == group.representative:
                line += "  [representative]"
            elif link is not None:
                rep = m[group.representative]
                line += f"\n    duplicate of {printable(rep.label)}: {explain(link)}"
            out.print(line, markup=False)
    if groups.other:
        out.print(
            f"\n{setcmds.plural(len(groups.other), 'verified pair')} between groups "
            "(not verified against every member, so not grouped):",
            markup=False,
        )
        for x in groups.other:
            out.print(
                f"  {printable(m[x.a].label)}\n    ~ {printable(m[x.b].label)}: {explain(x)}",
                markup=False,
            )
    setcmds.print_refused(image_set)


def leakage(
    train: Annotated[
        list[str],
        typer.Option(
            help="Training set: a dataset NAME@V (or NAME), or files and folders "
            "(repeat the option for several)."
        ),
    ],
    test: Annotated[list[str], typer.Option(help="Test set, as --train.")],
    html: HtmlOpt = None,
    fail_on_leak: Annotated[
        bool, typer.Option(help="Exit 1 when any pair crosses the split (for CI).")
    ] = False,
    workers: WorkersOpt = 0,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Every duplicate pair (exact or near) of a training and a test image."""
    setcmds.check_html(html)
    opened = open_ledger(ledger)
    with setcmds.progress() as bar:
        # Names first: a mistyped dataset fails before any folder is analysed.
        sides = {"train": train, "test": test}
        order = sorted(sides, key=lambda s: all(Path(r).exists() for r in sides[s]))
        sets = {side: _resolve(opened, sides[side], workers, bar) for side in order}
        train_set, test_set = sets["train"], sets["test"]
        require_images(train_set)
        require_images(test_set)
        if train_set.registered and test_set.registered:
            setcmds.check_registered(opened, bar, workers)
        bar.add_task("comparing", total=None)
        pairs = leaks(opened, train_set, test_set)
        page = None
        if html is not None:
            page = leakage_page(train_set, test_set, pairs, generated=_now(), pictures=Pictures())
    if page is not None and html is not None:
        setcmds.write(html, page)
    if as_json:
        emit_json(leakage_json(train_set, test_set, pairs))
    else:
        out.print(
            f"train {train_set.name} ({len(train_set.members)} images), test {test_set.name} "
            f"({len(test_set.members)} images): {setcmds.plural(len(pairs), 'pair')} "
            f"{'crosses' if len(pairs) == 1 else 'cross'} the split",
            markup=False,
        )
        for x in pairs:
            out.print(
                f"  train {printable(describe(train_set.members[x.a]))}\n"
                f"   test {printable(describe(test_set.members[x.b]))}\n"
                f"    {explain(x)}",
                markup=False,
            )
        setcmds.print_refused(train_set)
        setcmds.print_refused(test_set)
    if pairs and fail_on_leak:
        raise VerificationError(
            f"{setcmds.plural(len(pairs), 'pair')} of a training and a test image cross the split",
            subject="leakage",
        )


# --- helpers ---------------------------------------------------------------------------------


def _resolve(ledger: Ledger, refs: Sequence[str], workers: int, bar: Progress) -> ImageSet:
    paths = [Path(r) for r in refs]
    if not refs or not all(p.exists() for p in paths):
        return resolve(ledger, refs)  # a dataset name, or the error naming what is missing
    task = bar.add_task(f"analysing {' '.join(refs)}", total=count_files(paths))
    found = resolve(ledger, refs, workers=workers, progress=lambda _p: bar.advance(task))
    bar.remove_task(task)
    return found


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
