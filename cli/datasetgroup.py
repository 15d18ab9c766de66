"""medledger dataset: versions, diffs, lock files, and checking a copy against a lock."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli import datasetaccess as access
from cli.datasetstatus import BundleOpt, ledger_if_present, print_consent_rows, status_command
from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, out
from ledger.errors import InputError, show_path
from ledger.service import datasetaccess, datasetcopy
from ledger.service import datasets as service

app = typer.Typer(
    help=(
        "Dataset versions (signed member lists), lock files, and offline checks of a copy.\n\n"
        "Example: medledger dataset create chest --from data/ --key curator && "
        "medledger dataset pin chest@1 -o medledger.lock && "
        "medledger dataset verify medledger.lock data/ --pubkey log.vkey"
    ),
    no_args_is_help=True,
)
WorkersOpt = Annotated[
    int, typer.Option(min=0, help="Hashing threads or processes (0: all cores).")
]
app.command("status")(status_command)


def _label(v: service.Version) -> str:
    return f"{v.name}@{v.version}"


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The dataset name (versions count up from 1).")],
    key: Annotated[str, typer.Option(help="The owner's key (or an admin key) that signs.")],
    from_dir: Annotated[Path | None, typer.Option(
        "--from", help="A folder: every file must be registered (matched by file digest).")
    ] = None,
    images: Annotated[Path | None, typer.Option(
        help="A list file: per line an entry index or file SHA-256, then optionally a path.")
    ] = None,
    from_version: Annotated[str | None, typer.Option(
        help="NAME@V to start from, changed by --add and --remove.")] = None,
    add: Annotated[list[str] | None, typer.Option(
        help="A member to add: entry index, file SHA-256 or file (repeat).")] = None,
    remove: Annotated[list[str] | None, typer.Option(
        help="A member to remove: entry index, file SHA-256 or file (repeat).")] = None,
    tier: Annotated[str | None, typer.Option(
        help="Declared use tier: open, registered or controlled (default: as before, or open).")
    ] = None,
    keep_withdrawn: Annotated[bool, typer.Option(
        help="Keep members whose consent is withdrawn (left out and listed by default).")
    ] = False,
    duo: Annotated[list[str] | None, typer.Option(
        help="A GA4GH DUO code the version is offered under (GRU, NPU, DUO:0000042; repeat); "
             "signed in the entry, default: the previous version's.")] = None,
    workers: WorkersOpt = 0,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Append the next version of a dataset (a signed dataset.versioned entry).

    Example: medledger dataset create chest --from-version chest@1 --remove 17 --key curator
    """
    made = service.create(
        open_ledger(ledger), name, key=key, folder=from_dir, images=images,
        from_version=from_version, add=tuple(add or ()), remove=tuple(remove or ()), tier=tier,
        workers=workers, keep_withdrawn=keep_withdrawn, duo=tuple(duo or ()),
    )
    if as_json:
        emit_json(made.to_json())
        return
    v = made.version
    out.print(f"{_label(v)}: {v.members} members, {made.added} added, {made.removed} removed "
              f"({made.withdrawn} for withdrawn consent), tier {v.tier}, entry {v.index}\n"
              f"members root: {v.members_root}", markup=False)


@app.command("versions")
def versions(
    name: Annotated[str, typer.Argument(help="The dataset name.")],
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Every version of a dataset, each from its checked entry.

    Example: medledger dataset versions chest
    """
    found = service.versions(open_ledger(ledger), name)
    if as_json:
        emit_json({"name": name, "versions": [v.to_json() for v in found]})
        return
    if not found:
        out.print(f"{name}: no versions", markup=False)
        return
    table = Table("version", "entry", "members", "tier", "withdrawn", "time")
    for v in found:
        table.add_row(_label(v), str(v.index), str(v.members), v.tier, str(len(v.withdrawn)),
                      v.time)
    out.print(table)


@app.command("diff")
def diff(
    old: Annotated[str, typer.Argument(help="NAME@V")],
    new: Annotated[str, typer.Argument(help="NAME@V")],
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Members added and removed between two versions, with the reason for each.

    Example: medledger dataset diff chest@1 chest@2
    """
    found = service.diff(open_ledger(ledger), old, new)
    if as_json:
        emit_json(found.to_json())
        return
    out.print(f"{old} -> {new}: {len(found.changes)} change(s)", markup=False)
    for c in found.changes:
        where = f" {c['path']}" if c.get("path") else ""
        out.print(f"  {c['change']:8} entry {c['entry']}{where} ({c['reason']})", markup=False)


@app.command("pin")
def pin(
    label: Annotated[str, typer.Argument(help="NAME@V")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The lock file to write.")] = (
        Path("medledger.lock")),
    key: access.AccessKeyOpt = None,
    purpose: access.PurposeOpt = None,
    accept_terms: access.AcceptTermsOpt = False,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Write a lock file: the version's entry, its proof, a signed checkpoint, the members.

    Example: medledger dataset pin chest@2 -o medledger.lock
    """
    data, used = datasetaccess.pin(open_ledger(ledger), label, key=key, purpose=purpose,
                                   accept_terms=accept_terms)
    _write(output, data)
    if as_json:
        emit_json({"lock": str(output), "dataset": label, "bytes": len(data),
                   "access": used.to_json()})
        return
    if access.access_line(used):
        out.print(access.access_line(used), markup=False)
    out.print(f"pinned {label} in {show_path(output)} ({len(data)} bytes)", markup=False)


@app.command("profile")
def profile(
    label: Annotated[str, typer.Argument(help="NAME@V")],
    html: Annotated[Path | None, typer.Option(help="Also write this HTML page.")] = None,
    reference: Annotated[Path | None, typer.Option(
        help="A JSON file of expected shares per attribute (docs/datasets.md).")] = None,
    compare: Annotated[str | None, typer.Option(
        help="Another version or a split (NAME@W) to compare shares with.")] = None,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Counts by source, modality, manufacturer, model, body part, sex and age band.

    Counts under 5 are shown as "<5"; with --reference or --compare, the differences in share
    points per value. Example: medledger dataset profile chest@2 --compare chest-test@1
    """
    opened = open_ledger(ledger)
    found = service.profile(opened, label)
    comparisons = ([service.against(opened, label, reference)] if reference is not None
                   else []) + ([service.compare(opened, label, compare)] if compare else [])
    if html is not None:
        _write(html, service.profile_page(found, comparisons).encode("utf-8"))
    shown = found.to_json()
    if as_json:
        emit_json({**shown, "comparisons": [c.to_json() for c in comparisons]})
        return
    out.print(f"{label}: {found.members} members", markup=False)
    for attribute in shown["attributes"]:
        values = ", ".join(f"{v['value']} {v['count']}" for v in attribute["values"])
        out.print(f"  {attribute['name']}: {values or '-'} "
                  f"(missing {attribute['missing_share']:.1%})", markup=False)
    for comparison in comparisons:
        _print_comparison(comparison.to_json())


def _print_comparison(shown: dict[str, Any]) -> None:
    shared = (f", {shown['shared_members']} members in both" if "shared_members" in shown
              else "")
    out.print(f"against {shown['against']} (share points among members recording each "
              f"attribute{shared}):", markup=False)
    for attribute in shown["attributes"]:
        values = ", ".join(f"{v['value']} {_signed(v['difference_points'])}"
                           for v in attribute["values"])
        out.print(f"  {attribute['name']}: {values or '-'}", markup=False)


def _signed(points: float | None) -> str:
    return "withheld (<5)" if points is None else f"{points:+.1f}"


def _write(path: Path, data: bytes) -> None:
    """Whole or not at all: a temporary file renamed into place."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(f"{show_path(path)}: cannot write: {exc.strerror or exc}") from exc


@app.command("export")
def export(
    label: Annotated[str, typer.Argument(help="NAME@V")],
    croissant: Annotated[Path, typer.Option(help="The Croissant JSON-LD file to write.")],
    key: access.AccessKeyOpt = None,
    purpose: access.PurposeOpt = None,
    accept_terms: access.AcceptTermsOpt = False,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Write the version as MLCommons Croissant JSON-LD and its member manifest (CSV) beside it.

    Example: medledger dataset export chest@2 --croissant chest.json
    """
    manifest = croissant.with_name(croissant.stem + ".members.csv")
    doc, data, used = datasetaccess.export(open_ledger(ledger), label, manifest.name, key=key,
                                           purpose=purpose, accept_terms=accept_terms)
    _write(manifest, data)
    _write(croissant, (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    if as_json:
        emit_json({"croissant": str(croissant), "manifest": str(manifest),
                   "access": used.to_json()})
        return
    if access.access_line(used):
        out.print(access.access_line(used), markup=False)
    out.print(f"wrote {show_path(croissant)} and {show_path(manifest)}", markup=False)


@app.command("verify")
def verify(
    lock: Annotated[Path, typer.Argument(help="The lock file (medledger dataset pin).")],
    folder: Annotated[Path, typer.Argument(help="The local copy to check.")],
    pubkey: Annotated[list[str] | None, typer.Option(
        help="The log's verifier key (name+hash+key or a file); repeatable.")] = None,
    strict_bytes: Annotated[bool, typer.Option(
        help="Fail on anything but byte-identical files (reencoded, moved, ... too).")
    ] = False,
    workers: WorkersOpt = 0,
    bundle: BundleOpt = None,
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """Check a copy against a lock, offline: the lock's proofs first, then every file.

    Exit 0 when every member is ok, moved, reencoded or metadata_changed and no file is extra;
    1 otherwise. No ledger is needed.

    Example: medledger dataset verify medledger.lock data/ --pubkey log.vkey
    """
    result = datasetcopy.verify_copy(lock, folder, pubkeys=pubkey, strict_bytes=strict_bytes,
                                     workers=workers, bundle=bundle,
                                     ledger=ledger_if_present(ledger))
    if as_json:
        emit_json(result.to_json())
    else:
        _print_copy(result)
    result.require_match()


def _print_copy(result: datasetcopy.CopyVerified) -> None:
    shown = result.summary()
    out.print(f"lock: {shown['dataset']} from {shown['log']['origin']} (entry {shown['entry']}, "
              f"checkpoint size {shown['checkpoint']['size']}); proofs valid with "
              f"{shown['log']['key']} key", markup=False)
    for f in result.report.changed():
        where = f.path or f.pinned_path or ""
        extra = f" (pinned as {f.pinned_path})" if f.pinned_path and f.path else ""
        detail = f": {f.detail}" if f.detail else ""
        out.print(f"  {f.status:16} {where}{extra}{detail}", markup=False)
    counts = ", ".join(f"{n} {s}" for s, n in shown["counts"].items() if n)
    out.print(f"{shown['members']} members: {counts or 'nothing'}", markup=False)
    out.print(f"consent: {shown['consent']}", markup=False)
    print_consent_rows(result)


access.register(app)  # grant, revoke, grants (cli/datasetaccess.py)
