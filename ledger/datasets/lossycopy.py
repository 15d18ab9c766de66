"""``lossy_copy_of``: a file of the copy that is a verified near-duplicate of a missing member.

Runs after ``check_copy``, only when a member is missing and a file is extra, and only for
members whose descriptor grid is known (the ledger's side table, checked against the grid
digest the member's signed leaf holds). Each extra file is decoded once, described with the
registration's own descriptor (``ledger.imaging.render.thumbnail`` then ``describe``), and
compared with each missing member's grid by the near-duplicate verification
(``ledger.similarity.verification.verify``). A match replaces the member's ``missing`` and the
file's ``extra`` by one ``lossy_copy_of`` row; it still fails: these are not the pinned pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ledger.datasets.copycheck import CopyReport, FileStatus
from ledger.errors import LedgerError
from ledger.fingerprint.descriptor import Descriptor, describe
from ledger.imaging.limits import DecodeLimits
from ledger.similarity.verification import Verdict, verify

THUMBNAIL_SIZE = 64  # as registration (ledger.imaging.analyse) describes an image


def file_descriptor(path: Path, limits: DecodeLimits) -> Descriptor | None:
    """The near-duplicate descriptor of an image file, None when it is no readable image."""
    from ledger.imaging.decode import decode
    from ledger.imaging.render import thumbnail

    try:
        return describe(thumbnail(decode(path, limits=limits), size=THUMBNAIL_SIZE))
    except LedgerError:
        return None


def find_lossy_copies(folder: Path, report: CopyReport, grids: Mapping[int, Descriptor], *,
                      limits: DecodeLimits | None = None) -> int:  # fmt: skip
    """Rewrite ``report`` in place; returns how many lossy copies were found."""
    missing = [f.entry for f in report.files
               if f.status == "missing" and f.entry is not None and f.entry in grids]
    extra = [f.path for f in report.files if f.status == "extra" and f.path is not None]
    if not missing or not extra:
        return 0
    limits = limits or DecodeLimits()
    found: dict[int, tuple[str, Verdict]] = {}
    for path in extra:
        query = file_descriptor(folder / path, limits)
        report.decoded += 1
        if query is None:
            continue
        for entry in missing:
            if entry in found:
                continue
            verdict = verify(grids[entry], query)
            if verdict.matched:
                found[entry] = (path, verdict)
                break
    taken = {path for path, _ in found.values()}
    rows: list[FileStatus] = []
    for f in report.files:
        if f.status == "missing" and f.entry in found:
            path, verdict = found[f.entry]
            rows.append(FileStatus("lossy_copy_of", path, f.entry, f.pinned_path,
                                   f"a near-duplicate, not the pinned pixels: {verdict.explain()}"))
        elif not (f.status == "extra" and f.path in taken):
            rows.append(f)
    report.files[:] = rows
    return len(found)
