"""``lossy_copy_of``: a file of the copy that is a verified near-duplicate of a missing member.

Runs after ``check_copy``, only when a member is missing and a file is extra, and only for
members whose descriptor grid is known (the ledger's side table, checked against the grid
digest the member's signed leaf holds). Each extra file is decoded once, described with the
registration's own descriptor (``ledger.imaging.render.thumbnail`` then ``describe``), and
compared with each missing member's grid by the near-duplicate verification
(``ledger.similarity.verification.verify``): every pair when there are few, else the
candidates the near-duplicate index (``NearDuplicateIndex`` over the missing members) finds.
A match replaces the member's ``missing`` and the file's ``extra`` by one ``lossy_copy_of``
row; it still fails: these are not the pinned pixels. A file at a member's pinned path whose
pixels differ stays ``modified``; ``explain_modified`` only says when it is a near-duplicate
of its member (a lossy or edited copy rather than another image).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from ledger.datasets.copycheck import CopyReport, FileStatus
from ledger.errors import LedgerError
from ledger.fingerprint.descriptor import Descriptor, describe
from ledger.fingerprint.hashes import THUMBNAIL_SIZE  # the size registration describes
from ledger.imaging.limits import DecodeLimits
from ledger.similarity.search import MemoryDescriptors, NearDuplicateIndex
from ledger.similarity.verification import DEFAULT_THRESHOLDS, Thresholds, Verdict, verify

ALL_PAIRS = 256  # up to this many (file, member) pairs, each is verified; beyond, candidates


def file_descriptor(path: Path, limits: DecodeLimits) -> Descriptor | None:
    """The near-duplicate descriptor of an image file, None when it is no readable image."""
    from ledger.imaging.decode import decode
    from ledger.imaging.render import thumbnail

    try:
        return describe(thumbnail(decode(path, limits=limits), size=THUMBNAIL_SIZE))
    except LedgerError:
        return None


def _matcher(grids: Mapping[int, Descriptor], missing: list[int], pairs: int,
             thresholds: Thresholds) -> Callable[[Descriptor], list[tuple[int, Verdict]]]:
    """query -> the missing members it verifies against, best first."""
    if pairs <= ALL_PAIRS:
        def every(query: Descriptor) -> list[tuple[int, Verdict]]:
            verdicts = [(e, verify(grids[e], query, thresholds=thresholds)) for e in missing]
            return sorted(((e, v) for e, v in verdicts if v.matched),
                          key=lambda item: -item[1].correlation)
        return every
    memory = MemoryDescriptors()
    index = NearDuplicateIndex(descriptors=memory, thresholds=thresholds)
    for entry in missing:
        memory.put(entry, grids[entry])
        index.add(entry, grids[entry])
    return lambda query: [(m.image, m.verdict) for m in index.search(query)]


def find_lossy_copies(folder: Path, report: CopyReport, grids: Mapping[int, Descriptor], *,
                      limits: DecodeLimits | None = None,
                      thresholds: Thresholds = DEFAULT_THRESHOLDS) -> int:  # fmt: skip
    """Rewrite ``report`` in place; returns how many lossy copies were found."""
    missing = [f.entry for f in report.files
               if f.status == "missing" and f.entry is not None and f.entry in grids]
    extra = [f.path for f in report.files if f.status == "extra" and f.path is not None]
    if not missing or not extra:
        return 0
    limits = limits or DecodeLimits()
    matches = _matcher(grids, missing, len(missing) * len(extra), thresholds)
    found: dict[int, tuple[str, Verdict]] = {}
    for path in extra:
        query = file_descriptor(folder / path, limits)
        report.decoded += 1
        if query is None:
            continue
        entry, verdict = next(((e, v) for e, v in matches(query) if e not in found),
                              (None, None))
        if entry is not None and verdict is not None:
            found[entry] = (path, verdict)
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


PIXELS_DIFFER = "pixels differ"  # copycheck's detail for other pixels at the pinned path


def explain_modified(folder: Path, report: CopyReport, grids: Mapping[int, Descriptor], *,
                     limits: DecodeLimits | None = None,
                     thresholds: Thresholds = DEFAULT_THRESHOLDS) -> int:  # fmt: skip
    """Add to each ``modified`` row whose file is a near-duplicate of its member why; returns
    how many. The status does not change."""
    limits = limits or DecodeLimits()
    rows, explained = [], 0
    for f in report.files:
        stored = grids.get(f.entry) if f.entry is not None else None
        if f.status == "modified" and f.detail == PIXELS_DIFFER and f.path and stored:
            query = file_descriptor(folder / f.path, limits)
            verdict = None if query is None else verify(stored, query, thresholds=thresholds)
            if verdict is not None and verdict.matched:
                f = FileStatus(f.status, f.path, f.entry, f.pinned_path,
                               f"{PIXELS_DIFFER}; a near-duplicate of the member (a lossy or "
                               f"edited copy): {verdict.explain()}")
                explained += 1
        rows.append(f)
    report.files[:] = rows
    return explained
