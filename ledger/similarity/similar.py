"""``similar``: the registered images closest to a file or to a registered image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ledger.errors import InputError
from ledger.fingerprint.descriptor import Descriptor
from ledger.imaging.analyse import analyse
from ledger.imaging.limits import DecodeLimits
from ledger.registration.lookup import digest_of
from ledger.similarity.catalog import IndexedLedger, StoredDescriptors
from ledger.similarity.findings import EXACT, Finding, Submission, check
from ledger.store import reading


def similar(
    ledger: IndexedLedger, target: str, *, top: int = 10, limits: DecodeLimits | None = None
) -> list[dict[str, Any]]:
    """Every registration of the query's pixels first (its own file's included, marked
    ``same_file``), then at most ``top`` verified near-duplicates by correlation."""
    if top < 1:
        raise InputError(f"--top must be at least 1, got {top}")
    submission, own = _query(ledger, target, limits or DecodeLimits())
    index = ledger.duplicate_index()
    found = check(index, [submission])[0]
    index.save()
    registered = [(f.image.idx, f) for f in found if f.image is not None]
    exact = sorted((idx, f) for idx, f in registered if f.kind == EXACT)
    near = [f for idx, f in registered if f.kind != EXACT and idx not in own]
    return [_row(f, own) for _, f in exact] + [_row(f, own) for f in near[:top]]


def _query(ledger: IndexedLedger, target: str, limits: DecodeLimits) -> tuple[Submission, set[int]]:
    """The query's pixels and descriptor, and its own registrations (never its own match)."""
    if Path(target).is_file():
        analysis = analyse(target, secret=ledger.dir.secret(), limits=limits)
        own = _registered(ledger, analysis.file_sha256)
        return Submission(target, analysis.pixel_sha256, analysis.descriptor), own
    digest = digest_of(target)
    with reading(ledger.store.engine) as conn:
        rows = ledger.store.images_by_digest(conn, digest)
    if not rows:
        raise InputError(f"{target}: no such file, and no registered image has this digest")
    first = rows[0]
    descriptor: Descriptor | None = StoredDescriptors(ledger.store).get(first.idx)
    own = _registered(ledger, first.file_sha256)
    return Submission(target, first.pixel_sha256, descriptor), own


def _registered(ledger: IndexedLedger, file_sha256: str) -> set[int]:
    with reading(ledger.store.engine) as conn:
        return {r.idx for r in ledger.store.images_by_digest(conn, file_sha256)}


def _row(finding: Finding, own: set[int]) -> dict[str, Any]:
    out = finding.to_json()
    frame = {"frame": out["frame"]} if "frame" in out else {}  # a multi-frame image's frame
    return {
        "digest": out["digest"],
        "distance": out["distance"],
        "source": out["source"],
        "registered": out["registered"],
        "consent": out["consent"],
        "dataset": out["dataset"],
        "index": out["index"],
        "kind": out["kind"],
        "detail": out["detail"],
        "same_file": out["index"] in own,
    } | frame
