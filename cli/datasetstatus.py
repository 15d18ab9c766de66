"""medledger dataset status, and the --bundle / ledger-if-present pieces of dataset verify."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import DEFAULT_DIR, JsonOpt, LedgerOpt, open_ledger
from cli.output import emit_json, out
from ledger.service import Ledger, datasetcopy
from ledger.service.datasetstatus import dataset_status

BundleOpt = Annotated[Path | None, typer.Option(
    "--bundle", help="A newer bundle of the log (medledger bundle export), from index 0 or "
    "at least from the first member's entry, to the end.")]


def ledger_if_present(directory: Path) -> Ledger | None:
    """The ledger when run inside one (DIR exists); None when there is none. A --ledger
    given (not the default) that is no ledger is refused, not ignored."""
    if directory.is_dir() or directory != DEFAULT_DIR:
        return open_ledger(directory)
    return None


def print_consent_rows(result: datasetcopy.CopyVerified) -> None:
    for row in result.consent_rows():
        when = "after the pin" if row["after_pin"] else "before the pin (kept by the version)"
        where = row.get("path") or f"entry {row['entry']}"
        out.print(f"  {'consent_withdrawn':16} {where}: {row['consent']} at entry "
                  f"{row['since']}, {when}", markup=False)
    if not result.lossy_checked and result.report.counts()["missing"]:
        out.print("lossy copies: not looked for (no descriptor grids: run inside the ledger "
                  "directory, or give a bundle exported with --grids)", markup=False)


def status_command(
    label: Annotated[str, typer.Argument(help="The dataset version, NAME@V.")],
    ledger: LedgerOpt = DEFAULT_DIR,
    as_json: JsonOpt = False,
) -> None:
    """What has become of a version: consent withdrawn or subjects erased since it was made,
    members derived from withdrawn images, newer versions, and the members' screening.

    Example: medledger dataset status chest@1
    """
    status = dataset_status(open_ledger(ledger), label)
    shown = status.to_json()
    if as_json:
        emit_json(shown)
        return
    consent, screening = shown["consent"], shown["screening"]
    out.print(f"{shown['dataset']} (entry {shown['entry']}): {shown['members']} members",
              markup=False)
    since = ", ".join(f"{e['entry']} ({e['status']} at {e['since']})" for e in consent["since"])
    out.print(f"consent since the version: {consent['withdrawn_since']} withdrawn, "
              f"{consent['erased_since']} erased" + (f": {since}" if since else ""), markup=False)
    if consent["ended_before"]:
        out.print(f"consent ended before the version (kept): "
                  f"{', '.join(str(e['entry']) for e in consent['ended_before'])}", markup=False)
    derived = shown["derivatives_of_withdrawn"]
    out.print(f"members derived from withdrawn images: {len(derived)}"
              + (f" ({', '.join(map(str, derived))})" if derived else ""), markup=False)
    newer = ", ".join(f"{n['dataset']} ({n['members']} members)" for n in shown["newer_versions"])
    out.print(f"newer versions: {newer or 'none'}", markup=False)
    out.print(f"screening: {screening['medium_or_high']} of {shown['members']} members at "
              f"medium or high ({screening['share_medium_or_high']:.1%}); "
              f"{screening['not_screened']} not screened", markup=False)
